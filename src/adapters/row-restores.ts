/**
 * Revert's row work, one batch of backup entries at a time: the key texts a backup spells, the
 * columns a revert may restore, the first change a backup would make beyond them, and the restores
 * themselves (forced: whole rows; in scope: only the restorable columns).
 */
import type { TargetSpec } from '../config/target.js';
import { sql, type Queryable } from '../store/connection.js';
import { $c, $t, C, ORD, T, keyJson, keyMatch, rowsOf, tableRef } from './row-sql.js';

/** Restores one batch of backup entries: removes the keys, re-inserts the rows (exact jsonb texts). */
export async function restoreBatch(q: Queryable, spec: TargetSpec, keys: string[], rows: string[]): Promise<void> {
  const t = tableRef(spec);
  await q.query(
    sql`DELETE FROM ${t} ${$t} USING ${rowsOf(spec, `[${keys.join(',')}]`, 'rows')} ${$c} WHERE ${keyMatch(spec, T, C)}`,
  );
  if (rows.length) {
    await q.query(
      sql`INSERT INTO ${t} OVERRIDING SYSTEM VALUE
        SELECT * FROM jsonb_populate_recordset(NULL::${t}, ${`[${rows.join(',')}]`}::jsonb)`,
    );
  }
}

/** The key texts of a batch of changes, in plan order (the spelling backups use). */
export async function planKeys(q: Queryable, spec: TargetSpec, json: string): Promise<string[]> {
  const rows = await q.query(
    sql`SELECT ${keyJson(spec, C)} AS k FROM ${rowsOf(spec, json, 'changes')} ${$c} ORDER BY ${$c}.${ORD}`,
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
    WITH "$b" AS (
      SELECT "$e".ordinality AS ord, "$e".value AS r
      FROM jsonb_array_elements(${`[${rows.join(',')}]`}::jsonb) WITH ORDINALITY "$e")
    SELECT ${keyJson(spec, '$x')} AS k, "$kv".key AS col
    FROM "$b" CROSS JOIN LATERAL jsonb_populate_record(NULL::${t}, "$b".r) "$x"
      JOIN ${t} ${$t} ON ${keyMatch(spec, T, '$x')}
      CROSS JOIN LATERAL jsonb_each("$b".r) "$kv"
    WHERE "$kv".key <> ALL(${allowed}::text[]) AND (to_jsonb(${$t}) -> "$kv".key) IS DISTINCT FROM "$kv".value
    ORDER BY "$b".ord, "$kv".key LIMIT 1`);
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
      sql`DELETE FROM ${t} ${$t} USING ${rowsOf(spec, `[${gone.join(',')}]`, 'rows')} ${$c} WHERE ${keyMatch(spec, T, C)}`,
    );
  if (rows.length === 0) return;
  const json = `[${rows.join(',')}]`;
  const cols = restorable(spec);
  if (cols.length) {
    await q.query(sql`UPDATE ${t} AS ${$t} SET ${sql.join(
      cols.map((col) => sql`${sql.ident(col)} = "$r".${sql.ident(col)}`),
      sql`, `,
    )}
      FROM jsonb_populate_recordset(NULL::${t}, ${json}::jsonb) "$r" WHERE ${keyMatch(spec, T, '$r')}`);
  }
  await q.query(sql`INSERT INTO ${t} OVERRIDING SYSTEM VALUE
    SELECT "$r".* FROM jsonb_populate_recordset(NULL::${t}, ${json}::jsonb) "$r"
    WHERE NOT EXISTS (SELECT 1 FROM ${t} ${$t} WHERE ${keyMatch(spec, T, '$r')})`);
}
