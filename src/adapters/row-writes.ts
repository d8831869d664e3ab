/**
 * The row writes of a live cut, one statement per batch: leg A (pre-image fingerprints, upserts,
 * deletes and the expected post-image part) and the enact phase's lifecycle column.
 */
import type { TargetSpec } from '../config/target.js';
import { sql, type Queryable } from '../store/connection.js';
import { $c, $t, C, ORD, T, UP, bare, keyMatch, list, managed, rowText, rowsOf, tableRef } from './row-sql.js';

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
    WITH ${$c} AS MATERIALIZED ${rowsOf(spec, json, 'changes')},
    "$pre" AS (SELECT ${$c}.${ORD} AS ord, md5(${$t}::text) AS h
               FROM ${$c} JOIN ${t} ${$t} ON ${keyMatch(spec, T, C)}),
    "$w" AS (
      INSERT INTO ${t} (${bare(m)}) SELECT ${list(C, m)} FROM ${$c} WHERE ${$c}.${UP} ORDER BY ${$c}.${ORD}
      ON CONFLICT (${bare(spec.key)}) ${setList}
      RETURNING (xmax = 0) AS ins),
    "$d" AS (DELETE FROM ${t} ${$t} USING ${$c} WHERE NOT ${$c}.${UP} AND ${keyMatch(spec, T, C)} RETURNING 1)
    SELECT
      (SELECT string_agg(coalesce("$pre".h, '-') || E'\\n', '' ORDER BY ${$c}.${ORD})
       FROM ${$c} LEFT JOIN "$pre" ON "$pre".ord = ${$c}.${ORD}) AS pre,
      (SELECT count(*) FROM "$w" WHERE "$w".ins) AS inserted,
      (SELECT count(*) FROM "$w" WHERE NOT "$w".ins) AS updated,
      (SELECT count(*) FROM "$d") AS deleted,
      (SELECT md5(string_agg(${rowText(C, m)}, E'\\n' ORDER BY ${$c}.${ORD})) FROM ${$c} WHERE ${$c}.${UP}) AS eu,
      (SELECT md5(string_agg(${rowText(C, spec.key)}, E'\\n' ORDER BY ${$c}.${ORD}))
       FROM ${$c} WHERE NOT ${$c}.${UP}) AS ed`);
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
    WITH ${$c} AS ${rowsOf(spec, json, 'changes')},
    "$u" AS (UPDATE ${t} ${$t} SET ${sql.ident(lifecycle.column)} = ${lifecycle.value}
          FROM ${$c} WHERE ${$c}.${UP} AND ${keyMatch(spec, T, C)} RETURNING 1)
    SELECT count(*) AS n FROM "$u"`);
  return Number(r?.n);
}
