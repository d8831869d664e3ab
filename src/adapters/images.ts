/**
 * Row images, batch by batch: the fingerprints of the current rows and the comparison of a batch's
 * planned post-image with the table. Every phase walks the plan's changes in plan order, 5,000 at a
 * time, and lets PostgreSQL do the row work: a batch is sent as the JSON array of its changes and
 * split, typed and normalised in SQL (row-sql.ts), rows are fingerprinted with `md5("$t"::text)` and
 * compared column by column in SQL, so only digests, counts and a few sample rows cross the wire,
 * and Node never parses a row. The writes are in row-writes.ts, revert's restores in row-restores.ts.
 *
 * The digests the phases record are SHA-256 chains over the batches in plan order, so they never
 * need the whole image and do not depend on the batch size:
 * - pre-image hash: per planned key, `md5(row::text)` of the full current row, or `-` when absent;
 * - expected post-image: per batch, md5 of the upserted managed columns' row text, and md5 of the
 *   deleted keys' row text;
 * - actual post-image: the same over what the table holds (absent upserts as `-`; deleted keys
 *   only when really gone), so it equals the expected one exactly when the write verified.
 */
import { createHash } from 'node:crypto';
import type { TargetSpec } from '../config/target.js';
import { sql, type Queryable, type SQLQuery } from '../store/connection.js';
import type { Row } from './port.js';
import { $c, $t, C, ORD, T, UP, keyJson, keyMatch, managed, project, rowText, rowsOf, tableRef } from './row-sql.js';

// The batch contract lives with the plan loader (src/config/changes.ts); re-exported for the
// importers that still name this module (src/cuts/changes.ts, src/runner/revert.ts).
export { BATCH, type ChangeBatch, type ChangeSource } from '../config/changes.js';

/** A row image's SHA-256, fed batch by batch (unrelated to the event hash chain). */
export class ImageDigest {
  private readonly hash = createHash('sha256');
  add(part: string): void {
    this.hash.update(part);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

/** The pre-image hash part of a batch: per row in order, its md5 or `-`, each on its own line. */
const fingerprintAgg = sql`string_agg(coalesce(md5(${$t}::text), '-') || E'\\n', '' ORDER BY ${$c}.${ORD})`;

/** Fingerprints of the current rows of a batch's keys (the pre-image hash part). */
export async function currentImage(q: Queryable, spec: TargetSpec, json: string, kind: 'changes' | 'rows') {
  const [r] = await q.query(
    sql`SELECT ${fingerprintAgg} AS part
      FROM ${rowsOf(spec, json, kind)} ${$c} LEFT JOIN ${tableRef(spec)} ${$t} ON ${keyMatch(spec, T, C)}`,
  );
  return { part: (r?.part as string | null) ?? '' };
}

/** Planned rows per aggregated text value: small enough that a group of large rows stays far below 1 GB. */
const GROUP = 100;

/**
 * The backup's image of a slice of one batch (its changes `from`..`to`, 1-based, in plan order):
 * the pre-image hash part, the backup's entry lines (backup-format.ts: the key and the full row as
 * jsonb text, or `null`) and how many keys have a row. The lines are joined in SQL, GROUP rows per
 * value, so a slice crosses the wire as a few long strings instead of three fields per row; they
 * stay one string per group (a slice of wide rows must not become one string longer than
 * JavaScript allows). Slices start at a multiple of GROUP plus one, so groups are the batch's.
 */
export async function backupImage(
  q: Queryable,
  spec: TargetSpec,
  slice: BackupSlice,
): Promise<{ part: string; lines: string[]; present: number; widest: number }> {
  const groups = await q.query(sql`
    SELECT (${$c}.${ORD} - 1) / ${GROUP} AS "$g", ${fingerprintAgg} AS part, count(${$t}.ctid) AS present,
      count(*) AS n,
      string_agg(${keyJson(spec, C)} || E'\t' || coalesce(to_jsonb(${$t})::text, 'null') || E'\n', '' ORDER BY ${$c}.${ORD})
        AS lines
    FROM ${rowsOf(spec, slice.json, 'changes')} ${$c} LEFT JOIN ${tableRef(spec)} ${$t} ON ${keyMatch(spec, T, C)}
    WHERE ${$c}.${ORD} BETWEEN ${slice.from} AND ${slice.to}
    GROUP BY "$g" ORDER BY "$g"`);
  const lines = groups.map((g) => g.lines as string);
  return {
    part: groups.map((g) => g.part as string).join(''),
    lines,
    present: groups.reduce((n, g) => n + Number(g.present), 0),
    // Characters per row of the widest group (a group of absent keys' `null` lines says little).
    widest: groups.reduce((w, g) => Math.max(w, (g.lines as string).length / Number(g.n)), 0),
  };
}

/** Changes `from`..`to` (1-based, inclusive) of a batch: what one backup statement reads. */
export interface BackupSlice {
  json: string;
  from: number;
  to: number;
  count: number;
}

/**
 * About this many characters of backup lines per slice: the backup reads a batch in slices sized
 * from the rows it has read so far, so a phase holds a few slices' worth of rows (two in flight,
 * one being sunk) when its rows are wide. Ordinary rows (a few hundred bytes) make one slice of the
 * whole batch once the first slices have shown them; rows of 120 kB make slices of 100 rows. The
 * backup's bytes do not depend on the slicing: its lines and pre-image hash go row by row.
 */
export const BACKUP_SLICE_CHARS = 16 * 1024 * 1024;

/**
 * At most this many times the slice budget of a batch's change text is parsed again for its
 * slices (each slice's statement parses the whole batch): a batch whose changes are themselves wide
 * is cut into fewer slices, down to one, instead of being parsed once per slice.
 */
const REPARSE_BUDGETS = 8;

/**
 * The batches of `batches` as backup slices, each a whole number of groups (GROUP rows) from the
 * start of its batch. A slice holds as many groups as `maxChars` allows at the widest rows seen so
 * far (`seen`; the width never goes down), but at most twice the largest slice so far (the first
 * is one group), and at least enough that the batch's slices parse its change text no more than
 * REPARSE_BUDGETS × `maxChars` in all. What this cannot bound: rows that turn wide after a long run
 * of narrow ones get slices sized for the narrow ones (memory, not correctness: up to a batch).
 */
export function backupSlicer(maxChars = BACKUP_SLICE_CHARS) {
  let perRow = 0;
  let largest = 0;
  const groups = (rows: number) => Math.max(GROUP, Math.floor(rows / GROUP) * GROUP);
  const rowsPerSlice = (b: { json: string; count: number }) => {
    const byWidth = perRow > 0 ? groups(maxChars / perRow) : Infinity;
    const grown = largest === 0 ? GROUP : groups(2 * largest);
    const slices = Math.max(1, Math.floor((REPARSE_BUDGETS * maxChars) / Math.max(1, b.json.length)));
    const byReparse = Math.ceil(b.count / slices / GROUP) * GROUP;
    return Math.max(Math.min(byWidth, grown), byReparse);
  };
  return {
    async *slices(batches: AsyncIterable<{ json: string; count: number }>): AsyncGenerator<BackupSlice> {
      for await (const b of batches) {
        for (let from = 1; from <= b.count;) {
          const to = Math.min(b.count, from + rowsPerSlice(b) - 1);
          largest = Math.max(largest, to - from + 1);
          yield { json: b.json, from, to, count: to - from + 1 };
          from = to + 1;
        }
      }
    },
    /** A slice read: its widest group's characters per row. */
    seen(widest: number): void {
      perRow = Math.max(perRow, widest);
    },
  };
}

export interface Comparison {
  /** This batch's parts of the pre-image hash and of the expected and actual post-image digests. */
  pre: string;
  expected: string;
  actual: string;
  missing: number;
  differs: number;
  same: number;
  present: number;
  absent: number;
  samples: {
    kind: 'missing' | 'differs' | 'present';
    key: Row;
    planned: Row | null;
    current: Row | null;
    columns: string[];
  }[];
}

/**
 * Compares one batch's planned post-image with the table in one statement: the digest parts,
 * counts, and at most `samples` differing rows of each kind (verify, the dry run, revert's checks).
 */
export async function compareBatch(
  q: Queryable,
  spec: TargetSpec,
  json: string,
  opts: { samples: number; pre?: boolean },
): Promise<Comparison> {
  const [r] = await q.query(comparisonQuery(spec, json, opts));
  return comparisonOf(spec, r!);
}

/** The content columns whose planned value differs from the table's, as a text[] (SQL). */
function changedColumns(spec: TargetSpec): SQLQuery {
  if (!spec.columns.length) return sql`ARRAY[]::text[]`;
  const each = spec.columns.map(
    (col) => sql`CASE WHEN ${$c}.${sql.ident(col)} IS DISTINCT FROM ${$t}.${sql.ident(col)} THEN ${col}::text END`,
  );
  return sql`array_remove(ARRAY[${sql.join(each, sql`, `)}]::text[], NULL)`;
}

/**
 * The comparison statement: `"$j"` joins each planned row with the table's, `"$agg"` folds the digest
 * parts and counts, and the samples are read only when something mismatched. (`"$j"`'s own column
 * names are read only where `"$j"` alone is in scope, or qualified.)
 */
function comparisonQuery(spec: TargetSpec, json: string, opts: { samples: number; pre?: boolean }): SQLQuery {
  const t = tableRef(spec);
  const m = managed(spec);
  const mismatch = sql`("$j".up AND (NOT "$j".found OR cardinality("$j".cols) > 0)) OR (NOT "$j".up AND "$j".found)`;
  return sql`
    WITH ${$c} AS MATERIALIZED ${rowsOf(spec, json, 'changes')},
    "$j" AS MATERIALIZED (
      SELECT ${$c}.${ORD} AS ord, ${$c}.${UP} AS up, ${$t}.ctid IS NOT NULL AS found,
             ${opts.pre ? sql`coalesce(md5(${$t}::text), '-')` : sql`''`} AS h,
             CASE WHEN ${$c}.${UP} THEN ${rowText(C, m)} ELSE ${rowText(C, spec.key)} END AS e,
             CASE WHEN ${$t}.ctid IS NULL THEN NULL ELSE ${rowText(T, m)} END AS a,
             CASE WHEN ${$c}.${UP} AND ${$t}.ctid IS NOT NULL THEN ${changedColumns(spec)} ELSE ARRAY[]::text[] END AS cols
      FROM ${$c} LEFT JOIN ${t} ${$t} ON ${keyMatch(spec, T, C)}
    ),
    "$agg" AS (
      SELECT
        string_agg(h || E'\n', '' ORDER BY ord) AS pre,
        md5(string_agg(e, E'\n' ORDER BY ord) FILTER (WHERE up)) AS eu,
        md5(string_agg(coalesce(a, '-'), E'\n' ORDER BY ord) FILTER (WHERE up)) AS au,
        md5(string_agg(e, E'\n' ORDER BY ord) FILTER (WHERE NOT up)) AS ed,
        md5(string_agg(e, E'\n' ORDER BY ord) FILTER (WHERE NOT up AND NOT found)) AS ad,
        count(*) FILTER (WHERE up AND NOT found) AS missing,
        count(*) FILTER (WHERE up AND found AND cardinality(cols) > 0) AS differs,
        count(*) FILTER (WHERE up AND found AND cardinality(cols) = 0) AS same,
        count(*) FILTER (WHERE NOT up AND found) AS present,
        count(*) FILTER (WHERE NOT up AND NOT found) AS absent,
        count(*) FILTER (WHERE ${mismatch}) AS mismatched
      FROM "$j"
    )
    SELECT "$agg".*, CASE WHEN "$agg".mismatched = 0 OR ${opts.samples} = 0 THEN '[]'::jsonb ELSE (
      SELECT coalesce(jsonb_agg("$s" ORDER BY "$s".ord), '[]'::jsonb) FROM (
        SELECT CASE WHEN NOT "$j".up THEN 'present' WHEN "$j".found THEN 'differs' ELSE 'missing' END AS kind,
               to_jsonb(${$c}) AS planned, CASE WHEN "$j".found THEN to_jsonb(${$t}) END AS current,
               "$j".cols AS columns, "$j".ord
        FROM "$j" JOIN ${$c} ON ${$c}.${ORD} = "$j".ord LEFT JOIN ${t} ${$t} ON ${keyMatch(spec, T, C)}
        WHERE ${mismatch}
        ORDER BY "$j".ord LIMIT ${opts.samples}
      ) "$s") END AS samples
    FROM "$agg"`;
}

type Sample = Comparison['samples'][number];

/** The statement's row as a Comparison: digest parts as `U:…` / `D:…` lines, samples projected. */
function comparisonOf(spec: TargetSpec, r: Record<string, unknown>): Comparison {
  const part = (name: string, v: unknown) => `${name}:${(v as string | null) ?? '-'}\n`;
  const samples = r.samples as { kind: Sample['kind']; planned: Row; current: Row | null; columns: string[] }[];
  return {
    pre: (r.pre as string | null) ?? '',
    expected: part('U', r.eu) + part('D', r.ed),
    actual: part('U', r.au) + part('D', r.ad),
    missing: Number(r.missing),
    differs: Number(r.differs),
    same: Number(r.same),
    present: Number(r.present),
    absent: Number(r.absent),
    samples: samples.map((s) => ({
      kind: s.kind,
      key: project(s.planned, spec.key),
      planned: s.kind === 'present' ? null : project(s.planned, managed(spec)),
      current: s.current,
      columns: s.columns,
    })),
  };
}

/** A mismatch as verify reports it. */
export const mismatchOf = (s: Comparison['samples'][number]) => ({
  key: JSON.stringify(s.key),
  reason: s.kind === 'missing' ? 'missing' : s.kind === 'present' ? 'unexpected' : `differs: ${s.columns.join(',')}`,
});
