/**
 * Row images, batch by batch. Every phase walks the plan's changes in plan order, 5,000 at a time,
 * and lets PostgreSQL do the row work: a batch is sent as the JSON array of its changes and split,
 * typed and normalised in SQL (jsonb_populate_record over the table's row type), rows are
 * fingerprinted with `md5(t::text)` and compared column by column in SQL, so only digests, counts
 * and a few sample rows cross the wire, and Node never parses a row.
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
import { splitTable, type TargetSpec } from '../config/target.js';
import { sql, type Queryable, type SQLQuery } from '../store/connection.js';
import type { Row } from './port.js';

export const BATCH = 5000;

/** A batch of changes: the JSON array text of `count` changes (`{"upsert": …}` / `{"delete": …}`). */
export interface ChangeBatch {
  json: string;
  count: number;
}

/** Where a phase reads the plan's changes from: batches in plan order, re-readable. */
export type ChangeSource = () => AsyncIterable<ChangeBatch>;

export function tableRef(spec: TargetSpec): SQLQuery {
  const { schema, table } = splitTable(spec.table);
  return sql.ident(schema, table);
}

export function project(row: Row, cols: string[]): Row {
  return Object.fromEntries(cols.map((c) => [c, row[c] ?? null]));
}

export const managed = (spec: TargetSpec) => [...spec.key, ...spec.columns];

export function keyMatch(spec: TargetSpec, a: string, b: string): SQLQuery {
  return sql.join(
    spec.key.map((k) => sql`${sql.ident(a, k)} = ${sql.ident(b, k)}`),
    sql` AND `,
  );
}

const list = (alias: string, names: string[]) =>
  sql.join(
    names.map((c) => sql.ident(alias, c)),
    sql`, `,
  );
const bare = (names: string[]) =>
  sql.join(
    names.map((c) => sql.ident(c)),
    sql`, `,
  );
const rowText = (alias: string, names: string[]) => sql`ROW(${list(alias, names)})::text`;
const keyJson = (spec: TargetSpec, alias: string) =>
  sql`jsonb_build_object(${sql.join(
    spec.key.map((k) => sql`${k}::text, ${sql.ident(alias, k)}`),
    sql`, `,
  )})::text`;
const ORD = sql.ident('$ord');
const UP = sql.ident('$up');

/**
 * The rows of a JSON array as the table's type, numbered from 1 (`"$ord"`): `changes` arrays are
 * split into upserts and deletes (`"$up"`); `rows` arrays are plain rows or keys.
 */
function rowsOf(spec: TargetSpec, json: string, kind: 'changes' | 'rows'): SQLQuery {
  const value = kind === 'changes' ? sql`coalesce(e.value->'upsert', e.value->'delete')` : sql`e.value`;
  const up = kind === 'changes' ? sql`e.value ? 'upsert'` : sql`true`;
  return sql`(SELECT e.ordinality AS ${ORD}, ${up} AS ${UP}, x.* FROM jsonb_array_elements(${json}::jsonb) WITH ORDINALITY e,
    LATERAL jsonb_populate_record(NULL::${tableRef(spec)}, ${value}) x)`;
}

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
const fingerprintAgg = (alias: string) =>
  sql`string_agg(coalesce(md5(${sql.ident(alias)}::text), '-') || E'\\n', '' ORDER BY c.${ORD})`;

/** Fingerprints (and optionally the exact jsonb text) of the current rows of a batch's keys. */
export async function currentImage(
  q: Queryable,
  spec: TargetSpec,
  json: string,
  kind: 'changes' | 'rows',
  opts: { rows?: boolean } = {},
): Promise<{ part: string; keys: string[]; rows: (string | null)[] }> {
  const t = tableRef(spec);
  if (!opts.rows) {
    const [r] = await q.query(
      sql`SELECT ${fingerprintAgg('t')} AS part FROM ${rowsOf(spec, json, kind)} c LEFT JOIN ${t} t ON ${keyMatch(spec, 't', 'c')}`,
    );
    return { part: (r?.part as string | null) ?? '', keys: [], rows: [] };
  }
  const found = await q.query(sql`
    SELECT ${keyJson(spec, 'c')} AS k, md5(t::text) AS h, to_jsonb(t)::text AS r
    FROM ${rowsOf(spec, json, kind)} c LEFT JOIN ${t} t ON ${keyMatch(spec, 't', 'c')} ORDER BY c.${ORD}`);
  return {
    part: found.map((f) => `${(f.h as string | null) ?? '-'}\n`).join(''),
    keys: found.map((f) => f.k as string),
    rows: found.map((f) => f.r as string | null),
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
  const t = tableRef(spec);
  const m = managed(spec);
  const changed = spec.columns.length
    ? sql`array_remove(ARRAY[${sql.join(
        spec.columns.map(
          (col) => sql`CASE WHEN c.${sql.ident(col)} IS DISTINCT FROM t.${sql.ident(col)} THEN ${col}::text END`,
        ),
        sql`, `,
      )}]::text[], NULL)`
    : sql`ARRAY[]::text[]`;
  const mismatch = sql`(j.up AND (NOT j.found OR cardinality(j.cols) > 0)) OR (NOT j.up AND j.found)`;
  const [r] = await q.query(sql`
    WITH c AS MATERIALIZED ${rowsOf(spec, json, 'changes')},
    j AS MATERIALIZED (
      SELECT c.${ORD} AS ord, c.${UP} AS up, t.ctid IS NOT NULL AS found,
             ${opts.pre ? sql`coalesce(md5(t::text), '-')` : sql`''`} AS h,
             CASE WHEN c.${UP} THEN ${rowText('c', m)} ELSE ${rowText('c', spec.key)} END AS e,
             CASE WHEN t.ctid IS NULL THEN NULL ELSE ${rowText('t', m)} END AS a,
             CASE WHEN c.${UP} AND t.ctid IS NOT NULL THEN ${changed} ELSE ARRAY[]::text[] END AS cols
      FROM c LEFT JOIN ${t} t ON ${keyMatch(spec, 't', 'c')}
    ),
    agg AS (
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
      FROM j
    )
    SELECT agg.*, CASE WHEN agg.mismatched = 0 OR ${opts.samples} = 0 THEN '[]'::jsonb ELSE (
      SELECT coalesce(jsonb_agg(s ORDER BY s.ord), '[]'::jsonb) FROM (
        SELECT CASE WHEN NOT j.up THEN 'present' WHEN j.found THEN 'differs' ELSE 'missing' END AS kind,
               to_jsonb(c) AS planned, CASE WHEN j.found THEN to_jsonb(t) END AS current, j.cols AS columns, j.ord
        FROM j JOIN c ON c.${ORD} = j.ord LEFT JOIN ${t} t ON ${keyMatch(spec, 't', 'c')}
        WHERE ${mismatch}
        ORDER BY j.ord LIMIT ${opts.samples}
      ) s) END AS samples
    FROM agg`);
  const part = (name: string, v: unknown) => `${name}:${(v as string | null) ?? '-'}\n`;
  return {
    pre: (r.pre as string | null) ?? '',
    expected: part('U', r.eu) + part('D', r.ed),
    actual: part('U', r.au) + part('D', r.ad),
    missing: Number(r.missing),
    differs: Number(r.differs),
    same: Number(r.same),
    present: Number(r.present),
    absent: Number(r.absent),
    samples: (
      r.samples as {
        kind: Comparison['samples'][number]['kind'];
        planned: Row;
        current: Row | null;
        columns: string[];
      }[]
    ).map((s) => ({
      kind: s.kind,
      key: project(s.planned, spec.key),
      planned: s.kind === 'present' ? null : project(s.planned, m),
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

/**
 * Leg A for one batch, one statement: the pre-image fingerprints of the planned keys (from the
 * statement's snapshot, before its own writes), the upserts, the deletes, and the expected
 * post-image part. Run in a REPEATABLE READ transaction, a row another session changed after the
 * snapshot makes PostgreSQL refuse the write (serialization failure) instead of overwriting it.
 */
export async function writeBatch(
  q: Queryable,
  spec: TargetSpec,
  json: string,
): Promise<{ pre: string; expected: string; inserted: number; updated: number; deleted: number }> {
  const t = tableRef(spec);
  const m = managed(spec);
  const setList = spec.columns.length
    ? sql`DO UPDATE SET ${sql.join(
        spec.columns.map((col) => sql`${sql.ident(col)} = EXCLUDED.${sql.ident(col)}`),
        sql`, `,
      )}`
    : sql`DO NOTHING`;
  const [r] = await q.query(sql`
    WITH c AS MATERIALIZED ${rowsOf(spec, json, 'changes')},
    pre AS (SELECT c.${ORD} AS ord, md5(t::text) AS h FROM c JOIN ${t} t ON ${keyMatch(spec, 't', 'c')}),
    w AS (
      INSERT INTO ${t} (${bare(m)}) SELECT ${list('c', m)} FROM c WHERE c.${UP} ORDER BY c.${ORD}
      ON CONFLICT (${bare(spec.key)}) ${setList}
      RETURNING (xmax = 0) AS ins),
    d AS (DELETE FROM ${t} t USING c WHERE NOT c.${UP} AND ${keyMatch(spec, 't', 'c')} RETURNING 1)
    SELECT
      (SELECT string_agg(coalesce(pre.h, '-') || E'\\n', '' ORDER BY c.${ORD}) FROM c LEFT JOIN pre ON pre.ord = c.${ORD}) AS pre,
      (SELECT count(*) FROM w WHERE ins) AS inserted,
      (SELECT count(*) FROM w WHERE NOT ins) AS updated,
      (SELECT count(*) FROM d) AS deleted,
      (SELECT md5(string_agg(${rowText('c', m)}, E'\\n' ORDER BY c.${ORD})) FROM c WHERE c.${UP}) AS eu,
      (SELECT md5(string_agg(${rowText('c', spec.key)}, E'\\n' ORDER BY c.${ORD})) FROM c WHERE NOT c.${UP}) AS ed`);
  return {
    pre: (r.pre as string | null) ?? '',
    expected: `U:${r.eu ?? '-'}\nD:${r.ed ?? '-'}\n`,
    inserted: Number(r.inserted),
    updated: Number(r.updated),
    deleted: Number(r.deleted),
  };
}

/** Sets the lifecycle column on a batch's upserted keys; returns how many rows it set. */
export async function enactBatch(
  q: Queryable,
  spec: TargetSpec,
  json: string,
  lifecycle: { column: string; value: string },
): Promise<number> {
  const t = tableRef(spec);
  const [r] = await q.query(sql`
    WITH c AS ${rowsOf(spec, json, 'changes')},
    u AS (UPDATE ${t} t SET ${sql.ident(lifecycle.column)} = ${lifecycle.value} FROM c WHERE c.${UP} AND ${keyMatch(spec, 't', 'c')} RETURNING 1)
    SELECT count(*) AS n FROM u`);
  return Number(r?.n);
}

/** Restores one batch of backup entries: removes the keys, re-inserts the rows (exact jsonb texts). */
export async function restoreBatch(q: Queryable, spec: TargetSpec, keys: string[], rows: string[]): Promise<void> {
  const t = tableRef(spec);
  await q.query(
    sql`DELETE FROM ${t} t USING ${rowsOf(spec, `[${keys.join(',')}]`, 'rows')} c WHERE ${keyMatch(spec, 't', 'c')}`,
  );
  if (rows.length) {
    await q.query(
      sql`INSERT INTO ${t} OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_recordset(NULL::${t}, ${`[${rows.join(',')}]`}::jsonb)`,
    );
  }
}

/** The key texts of a batch of changes, in plan order (the spelling backups use). */
export async function planKeys(q: Queryable, spec: TargetSpec, json: string): Promise<string[]> {
  const rows = await q.query(
    sql`SELECT ${keyJson(spec, 'c')} AS k FROM ${rowsOf(spec, json, 'changes')} c ORDER BY c.${ORD}`,
  );
  return rows.map((r) => r.k as string);
}

/** The columns a cut may change, so a revert may restore: content columns and the lifecycle column. */
export const restorable = (spec: TargetSpec): string[] => [
  ...spec.columns,
  ...(spec.lifecycle && !spec.columns.includes(spec.lifecycle.column) ? [spec.lifecycle.column] : []),
];

/**
 * The first column a batch of backup rows would change beyond the target's managed columns (key,
 * content, lifecycle): a column the backup gives a value different from the current row's, or a
 * column the table does not have. Rows absent now are not compared (they are re-inserted whole).
 */
export async function unmanagedChange(
  q: Queryable,
  spec: TargetSpec,
  rows: string[],
): Promise<{ key: string; column: string } | undefined> {
  if (rows.length === 0) return undefined;
  const t = tableRef(spec);
  const allowed = [...spec.key, ...restorable(spec)];
  const [r] = await q.query(sql`
    WITH b AS (SELECT e.ordinality AS ord, e.value AS r FROM jsonb_array_elements(${`[${rows.join(',')}]`}::jsonb) WITH ORDINALITY e)
    SELECT ${keyJson(spec, 'x')} AS k, kv.key AS col
    FROM b CROSS JOIN LATERAL jsonb_populate_record(NULL::${t}, b.r) x
      JOIN ${t} t ON ${keyMatch(spec, 't', 'x')}
      CROSS JOIN LATERAL jsonb_each(b.r) kv
    WHERE kv.key <> ALL(${allowed}::text[]) AND (to_jsonb(t) -> kv.key) IS DISTINCT FROM kv.value
    ORDER BY b.ord, kv.key LIMIT 1`);
  return r ? { key: r.k as string, column: r.col as string } : undefined;
}

/**
 * Restores one batch of backup entries within the plan's scope: keys absent in the backup are
 * removed; rows present now get their restorable columns back (nothing else is written); rows
 * absent now (the cut deleted them) are re-inserted as the backup holds them.
 */
export async function restoreManagedBatch(
  q: Queryable,
  spec: TargetSpec,
  entries: { key: string; row: string | null }[],
): Promise<void> {
  const t = tableRef(spec);
  const gone = entries.filter((e) => e.row === null).map((e) => e.key);
  const rows = entries.flatMap((e) => (e.row === null ? [] : [e.row]));
  if (gone.length)
    await q.query(
      sql`DELETE FROM ${t} t USING ${rowsOf(spec, `[${gone.join(',')}]`, 'rows')} c WHERE ${keyMatch(spec, 't', 'c')}`,
    );
  if (rows.length === 0) return;
  const json = `[${rows.join(',')}]`;
  const cols = restorable(spec);
  if (cols.length) {
    await q.query(sql`UPDATE ${t} AS t SET ${sql.join(
      cols.map((col) => sql`${sql.ident(col)} = r.${sql.ident(col)}`),
      sql`, `,
    )}
      FROM jsonb_populate_recordset(NULL::${t}, ${json}::jsonb) r WHERE ${keyMatch(spec, 't', 'r')}`);
  }
  await q.query(sql`INSERT INTO ${t} OVERRIDING SYSTEM VALUE SELECT r.* FROM jsonb_populate_recordset(NULL::${t}, ${json}::jsonb) r
    WHERE NOT EXISTS (SELECT 1 FROM ${t} t WHERE ${keyMatch(spec, 't', 'r')})`);
}
