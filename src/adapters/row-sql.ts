/**
 * The SQL vocabulary the row phases share: the target table's reference, key matches, row texts,
 * and a batch's JSON array of changes (or rows) as rows of the table's own type, so PostgreSQL
 * splits, types and normalises them and Node never parses a row.
 */
import type { TargetSpec } from '../config/target.js';
import { splitTable } from '../config/target.js';
import { InvalidInputError } from '../errors.js';
import { sql, type Queryable, type SQLQuery } from '../store/connection.js';
import type { Row } from './port.js';

/** The target table as a quoted, schema-qualified identifier. */
export function tableRef(spec: TargetSpec): SQLQuery {
  const { schema, table } = splitTable(spec.table);
  return sql.ident(schema, table);
}

/** The given columns of a row, absent ones as null. */
export function project(row: Row, cols: string[]): Row {
  return Object.fromEntries(cols.map((c) => [c, row[c] ?? null]));
}

/** The columns a plan writes: key and content columns. */
export const managed = (spec: TargetSpec) => [...spec.key, ...spec.columns];

/** `a.k = b.k AND …` over the key columns. */
export function keyMatch(spec: TargetSpec, a: string, b: string): SQLQuery {
  return sql.join(
    spec.key.map((k) => sql`${sql.ident(a, k)} = ${sql.ident(b, k)}`),
    sql` AND `,
  );
}

export const list = (alias: string, names: string[]) =>
  sql.join(
    names.map((c) => sql.ident(alias, c)),
    sql`, `,
  );
export const bare = (names: string[]) =>
  sql.join(
    names.map((c) => sql.ident(c)),
    sql`, `,
  );
export const rowText = (alias: string, names: string[]) => sql`ROW(${list(alias, names)})::text`;
export const keyJson = (spec: TargetSpec, alias: string) =>
  sql`jsonb_build_object(${sql.join(
    spec.key.map((k) => sql`${k}::text, ${sql.ident(alias, k)}`),
    sql`, `,
  )})::text`;
export const ORD = sql.ident('$ord');
export const UP = sql.ident('$up');

/**
 * The aliases the row SQL gives the target table (`"$t"`) and a batch's rows (`"$c"`), as names
 * for keyMatch, list, rowText and keyJson and as identifiers. Every alias of the row SQL starts with
 * `$`: in PostgreSQL an unqualified name is a column before it is a table alias, so a whole-row
 * reference such as `md5(t::text)` or `to_jsonb(t)` would read a column named `t` instead (or be
 * ambiguous). No target column may start with `$` (prepare refuses one), so these are always the rows.
 */
export const T = '$t';
export const C = '$c';
export const $t = sql.ident(T);
export const $c = sql.ident(C);

/**
 * The rows of a JSON array as the table's type, numbered from 1 (`"$ord"`): `changes` arrays are
 * split into upserts and deletes (`"$up"`); `rows` arrays are plain rows or keys.
 */
export function rowsOf(spec: TargetSpec, json: string, kind: 'changes' | 'rows'): SQLQuery {
  const value = kind === 'changes' ? sql`coalesce("$e".value->'upsert', "$e".value->'delete')` : sql`"$e".value`;
  const up = kind === 'changes' ? sql`"$e".value ? 'upsert'` : sql`true`;
  return sql`(SELECT "$e".ordinality AS ${ORD}, ${up} AS ${UP}, "$x".*
    FROM jsonb_array_elements(${json}::jsonb) WITH ORDINALITY "$e",
    LATERAL jsonb_populate_record(NULL::${tableRef(spec)}, ${value}) "$x")`;
}

/**
 * Refuses a target with a column whose name starts with `$` (InvalidInputError, exit 2): it could be
 * one of the row SQL's own aliases above. Checked where the table is introspected: the live
 * adapter's prepare, and the simulator before it reads.
 */
export async function refuseDollarColumns(q: Queryable, spec: TargetSpec): Promise<void> {
  const { schema, table } = splitTable(spec.table);
  const [dollar] = await q.query(sql`
    SELECT a.attname::text AS name
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${schema} AND c.relname = ${table} AND a.attnum > 0 AND NOT a.attisdropped
      AND left(a.attname, 1) = '$'
    ORDER BY a.attnum LIMIT 1`);
  if (dollar)
    throw new InvalidInputError(
      `targets.${spec.name}: ${spec.table} has a column named ${JSON.stringify(dollar.name)}; cutter cannot ` +
        "manage a table with a column whose name starts with $ (its own SQL's aliases do); rename the column",
    );
}
