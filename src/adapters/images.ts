/**
 * Row images, batch by batch. Every phase walks the plan's changes in plan order, 5,000 at a time,
 * and lets PostgreSQL do the row work: values are normalised by the table's own types
 * (jsonb_populate_recordset over its row type), rows are fingerprinted with `md5(t::text)` and
 * compared column by column in SQL, so only digests, counts and a few samples cross the wire.
 *
 * The digests every phase records are chains over the batches (SHA-256 of the per-row or per-batch
 * parts in plan order), so they do not depend on the batch size and never need the whole image:
 * - pre-image hash: per planned key, `md5(row::text)` of the full current row, or `-` when absent;
 * - expected post-image: per batch, md5 of the upserted managed columns' row text, and of the
 *   deleted keys;
 * - actual post-image: the same over what the table holds (absent rows as `∅`, deleted keys only
 *   when really gone), so it equals the expected one exactly when the write verified.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../events/canonical.js';
import type { Change } from '../../events/plan.js';
import { splitTable, type TargetSpec } from '../config/target.js';
import { sql, type Queryable, type SQLQuery } from '../store/connection.js';
import type { Row } from './port.js';

export const BATCH = 5000;

/** Where a phase reads the plan's changes from: batches in plan order, re-readable. */
export type ChangeSource = () => AsyncIterable<Change[]>;

export function tableRef(spec: TargetSpec): SQLQuery {
  const { schema, table } = splitTable(spec.table);
  return sql.ident(schema, table);
}

export function project(row: Row, cols: string[]): Row {
  return Object.fromEntries(cols.map((c) => [c, row[c] ?? null]));
}

export const keyText = (spec: TargetSpec, row: Row) => canonicalJson(project(row, spec.key));
export const managed = (spec: TargetSpec) => [...spec.key, ...spec.columns];

export function keyMatch(spec: TargetSpec, a: string, b: string): SQLQuery {
  return sql.join(spec.key.map((k) => sql`${sql.ident(a, k)} = ${sql.ident(b, k)}`), sql` AND `);
}

const cols = (alias: string, names: string[]) => sql.join(names.map((c) => sql.ident(alias, c)), sql`, `);
const rowText = (alias: string, names: string[]) => sql`ROW(${cols(alias, names)})::text`;

/** A batch split by kind; `keys` are every change's key columns, in plan order. */
export interface Batch {
  upserts: Row[];
  deletes: Row[];
  keys: Row[];
}

export function splitBatch(spec: TargetSpec, changes: Change[]): Batch {
  const b: Batch = { upserts: [], deletes: [], keys: [] };
  for (const c of changes) {
    if ('upsert' in c) b.upserts.push(c.upsert);
    else b.deletes.push(c.delete);
    b.keys.push(project('upsert' in c ? c.upsert : c.delete, spec.key));
  }
  return b;
}

export async function* batches(spec: TargetSpec, source: ChangeSource): AsyncGenerator<Batch> {
  for await (const changes of source()) yield splitBatch(spec, changes);
}

/** A SHA-256 chain fed part by part. */
export class Chain {
  private readonly hash = createHash('sha256');
  add(part: string): void {
    this.hash.update(part);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

const recordset = (spec: TargetSpec, rows: Row[]) => sql`jsonb_populate_recordset(NULL::${tableRef(spec)}, ${JSON.stringify(rows)}::jsonb) WITH ORDINALITY`;

/**
 * The current rows of `keys`: per key, `md5(row::text)` (or null) and, with `rows`, the full row as
 * PostgreSQL's jsonb text (exact: numbers are not parsed). `lock` takes FOR UPDATE on those that
 * exist; in READ COMMITTED the locked, latest versions are what is fingerprinted.
 */
export async function currentImage(q: Queryable, spec: TargetSpec, keys: Row[], opts: { lock?: boolean; rows?: boolean } = {}): Promise<{ fingerprints: (string | null)[]; rows: (string | null)[] }> {
  const t = tableRef(spec);
  const found = await q.query(sql`
    SELECT x.ordinality AS ord, md5(t::text) AS h ${opts.rows ? sql`, to_jsonb(t)::text AS r` : sql``}
    FROM ${recordset(spec, keys)} x JOIN ${t} t ON ${keyMatch(spec, 't', 'x')}
    ${opts.lock ? sql`FOR UPDATE OF t` : sql``}`);
  const fingerprints: (string | null)[] = new Array(keys.length).fill(null);
  const rows: (string | null)[] = new Array(keys.length).fill(null);
  for (const f of found) {
    const i = Number(f.ord) - 1;
    fingerprints[i] = f.h;
    if (opts.rows) rows[i] = f.r;
  }
  return { fingerprints, rows };
}

/** The pre-image hash part of one batch. */
export const fingerprintPart = (fingerprints: (string | null)[]) => fingerprints.map((h) => `${h ?? '-'}\n`).join('');

export interface Comparison {
  /** Parts of the expected and actual post-image digests for this batch. */
  expected: string;
  actual: string;
  missing: number;
  differs: number;
  same: number;
  present: number;
  absent: number;
  samples: { kind: 'missing' | 'differs' | 'present'; key: Row; planned: Row | null; current: Row | null; columns: string[] }[];
}

/**
 * Compares one batch's planned post-image with the table: in SQL, one statement, returning the
 * digest parts, counts and at most `samples` differing rows (verify, the dry run's diff, revert's
 * drift check).
 */
export async function compareBatch(q: Queryable, spec: TargetSpec, b: Batch, opts: { samples: number }): Promise<Comparison> {
  const t = tableRef(spec);
  const m = managed(spec);
  const keyJson = (alias: string) => sql`jsonb_build_object(${sql.join(spec.key.map((k) => sql`${k}::text, ${sql.ident(alias, k)}`), sql`, `)})`;
  const changed = sql`array_remove(ARRAY[${sql.join(spec.columns.map((c) => sql`CASE WHEN x.${sql.ident(c)} IS DISTINCT FROM t.${sql.ident(c)} THEN ${c}::text END`), sql`, `)}]::text[], NULL)`;
  const [r] = await q.query(sql`
    WITH u AS (
      SELECT x.ordinality AS ord, ${rowText('x', m)} AS e, CASE WHEN t.ctid IS NULL THEN NULL ELSE ${rowText('t', m)} END AS a,
             t.ctid IS NULL AS missing, ${changed} AS cols, ${keyJson('x')} AS k, to_jsonb(x) - 'ordinality' AS planned, CASE WHEN t.ctid IS NULL THEN NULL ELSE to_jsonb(t) END AS cur
      FROM ${recordset(spec, b.upserts)} x LEFT JOIN ${t} t ON ${keyMatch(spec, 't', 'x')}
    ), d AS (
      SELECT y.ordinality AS ord, ${rowText('y', spec.key)} AS k, t.ctid IS NOT NULL AS present, ${keyJson('y')} AS kj, CASE WHEN t.ctid IS NULL THEN NULL ELSE to_jsonb(t) END AS cur
      FROM ${recordset(spec, b.deletes)} y LEFT JOIN ${t} t ON ${keyMatch(spec, 't', 'y')}
    )
    SELECT
      (SELECT md5(string_agg(e, E'\\n' ORDER BY ord)) FROM u) AS eu,
      (SELECT md5(string_agg(coalesce(a, '∅'), E'\\n' ORDER BY ord)) FROM u) AS au,
      (SELECT md5(string_agg(k, E'\\n' ORDER BY ord)) FROM d) AS ed,
      (SELECT md5(string_agg(k, E'\\n' ORDER BY ord)) FROM d WHERE NOT present) AS ad,
      (SELECT count(*) FROM u WHERE missing) AS missing,
      (SELECT count(*) FROM u WHERE NOT missing AND cardinality(cols) > 0) AS differs,
      (SELECT count(*) FROM u WHERE NOT missing AND cardinality(cols) = 0) AS same,
      (SELECT count(*) FROM d WHERE present) AS present,
      (SELECT count(*) FROM d WHERE NOT present) AS absent,
      (SELECT coalesce(jsonb_agg(s), '[]'::jsonb) FROM (
         (SELECT CASE WHEN missing THEN 'missing' ELSE 'differs' END AS kind, k AS key, planned, cur AS current, cols AS columns, ord FROM u
           WHERE missing OR cardinality(cols) > 0 ORDER BY ord LIMIT ${opts.samples})
         UNION ALL
         (SELECT 'present', kj, NULL, cur, ARRAY[]::text[], ord FROM d WHERE present ORDER BY ord LIMIT ${opts.samples})
      ) s) AS samples`);
  const part = (name: string, v: unknown) => `${name}:${(v as string | null) ?? '-'}\n`;
  return {
    expected: part('U', r.eu) + part('D', r.ed),
    actual: part('U', r.au) + part('D', r.ad),
    missing: Number(r.missing),
    differs: Number(r.differs),
    same: Number(r.same),
    present: Number(r.present),
    absent: Number(r.absent),
    samples: (r.samples as Comparison['samples']).map((s) => ({ kind: s.kind, key: s.key, planned: s.planned ? project(s.planned, m) : null, current: s.current, columns: s.columns })),
  };
}

/** A mismatch as verify reports it. */
export const mismatchOf = (s: Comparison['samples'][number]) => ({
  key: canonicalJson(s.key),
  reason: s.kind === 'missing' ? 'missing' : s.kind === 'present' ? 'unexpected' : `differs: ${s.columns.join(',')}`,
});

/** The SQL for a leg A upsert of one batch: counts inserted/updated and the expected digest part. */
export function upsertBatch(spec: TargetSpec, rows: Row[]): SQLQuery {
  const t = tableRef(spec);
  const m = managed(spec);
  const setList = sql.join(spec.columns.map((c) => sql`${sql.ident(c)} = EXCLUDED.${sql.ident(c)}`), sql`, `);
  return sql`
    WITH x AS (SELECT * FROM ${recordset(spec, rows)}),
    w AS (
      INSERT INTO ${t} (${sql.join(m.map((c) => sql.ident(c)), sql`, `)})
      SELECT ${sql.join(m.map((c) => sql.ident(c)), sql`, `)} FROM x ORDER BY ordinality
      ON CONFLICT (${sql.join(spec.key.map((k) => sql.ident(k)), sql`, `)}) DO UPDATE SET ${setList}
      RETURNING (xmax = 0) AS ins)
    SELECT (SELECT count(*) FROM w WHERE ins) AS inserted, (SELECT count(*) FROM w WHERE NOT ins) AS updated`;
}

export function deleteBatch(spec: TargetSpec, keys: Row[]): SQLQuery {
  const t = tableRef(spec);
  return sql`WITH d AS (DELETE FROM ${t} t USING ${recordset(spec, keys)} x WHERE ${keyMatch(spec, 't', 'x')} RETURNING 1) SELECT count(*) AS n FROM d`;
}

export function enactBatch(spec: TargetSpec, keys: Row[], lifecycle: { column: string; value: string }): SQLQuery {
  const t = tableRef(spec);
  return sql`WITH u AS (UPDATE ${t} t SET ${sql.ident(lifecycle.column)} = ${lifecycle.value} FROM ${recordset(spec, keys)} x WHERE ${keyMatch(spec, 't', 'x')} RETURNING 1) SELECT count(*) AS n FROM u`;
}

/** Restores one batch of pre-image rows (jsonb texts, exact) after removing the planned keys. */
export async function restoreBatch(q: Queryable, spec: TargetSpec, keys: Row[], rows: string[]): Promise<void> {
  const t = tableRef(spec);
  await q.query(sql`DELETE FROM ${t} t USING ${recordset(spec, keys)} x WHERE ${keyMatch(spec, 't', 'x')}`);
  if (rows.length) {
    await q.query(sql`INSERT INTO ${t} OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_recordset(NULL::${t}, ${`[${rows.join(',')}]`}::jsonb)`);
  }
}

/** The expected post-image part of one batch, from the plan alone (no table read). */
export async function expectedPart(q: Queryable, spec: TargetSpec, b: Batch): Promise<string> {
  const [r] = await q.query(sql`
    SELECT (SELECT md5(string_agg(${rowText('x', managed(spec))}, E'\\n' ORDER BY x.ordinality)) FROM ${recordset(spec, b.upserts)} x) AS eu,
           (SELECT md5(string_agg(${rowText('y', spec.key)}, E'\\n' ORDER BY y.ordinality)) FROM ${recordset(spec, b.deletes)} y) AS ed`);
  return `U:${r.eu ?? '-'}\nD:${r.ed ?? '-'}\n`;
}
