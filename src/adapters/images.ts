/**
 * Row images — the contract every phase hashes. Keys are sorted by their canonical JSON; values are
 * normalised by PostgreSQL itself (jsonb_populate_recordset over the table's row type), so what a
 * plan says and what the table stores compare exactly.
 */
import { canonicalJson, hashOf } from '../../events/canonical.js';
import type { CutPlan } from '../../events/plan.js';
import { splitTable, type TargetSpec } from '../config/target.js';
import { sql, type Queryable, type SQLQuery } from '../store/connection.js';
import type { PreImageEntry, Row } from './port.js';

export const BATCH = 5000;

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

export function chunks<T>(xs: T[], size = BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/** The plan's changes with every value normalised through the table's types. */
export async function normalisedPlan(q: Queryable, spec: TargetSpec, plan: CutPlan): Promise<{ upserts: Row[]; deletes: Row[] }> {
  const upserts: Row[] = [];
  const deletes: Row[] = [];
  for (const c of plan.changes) ('upsert' in c ? upserts : deletes).push('upsert' in c ? c.upsert : c.delete);
  const norm = async (rows: Row[], cols: string[]) => {
    const out: Row[] = [];
    for (const batch of chunks(rows)) {
      const res = await q.query(sql`SELECT to_jsonb(x) AS r FROM jsonb_populate_recordset(NULL::${tableRef(spec)}, ${JSON.stringify(batch)}::jsonb) x`);
      out.push(...res.map((r) => project(r.r as Row, cols)));
    }
    return out;
  };
  return { upserts: await norm(upserts, managed(spec)), deletes: await norm(deletes, spec.key) };
}

/** Full current rows of `keys`, in the order of `keys` (null when absent). Optionally FOR UPDATE. */
export async function currentRows(q: Queryable, spec: TargetSpec, keys: Row[], opts: { lock?: boolean } = {}): Promise<(Row | null)[]> {
  const found = new Map<string, Row>();
  for (const batch of chunks(keys)) {
    const rows = await q.query(sql`
      SELECT to_jsonb(t) AS r FROM ${tableRef(spec)} t
      JOIN jsonb_populate_recordset(NULL::${tableRef(spec)}, ${JSON.stringify(batch)}::jsonb) x ON ${keyMatch(spec, 't', 'x')}
      ${opts.lock ? sql`FOR UPDATE OF t` : sql``}`);
    for (const r of rows) found.set(keyText(spec, r.r as Row), r.r as Row);
  }
  return keys.map((k) => found.get(keyText(spec, k)) ?? null);
}

/** Planned keys in canonical order. */
export function plannedKeys(spec: TargetSpec, n: { upserts: Row[]; deletes: Row[] }): Row[] {
  const keys = [...n.upserts, ...n.deletes].map((r) => project(r, spec.key));
  return keys.sort((a, b) => (canonicalJson(a) < canonicalJson(b) ? -1 : canonicalJson(a) > canonicalJson(b) ? 1 : 0));
}

export async function readPreImage(q: Queryable, spec: TargetSpec, keys: Row[], opts: { lock?: boolean } = {}): Promise<PreImageEntry[]> {
  const rows = await currentRows(q, spec, keys, opts);
  return keys.map((key, i) => ({ key, row: rows[i] ?? null }));
}

export const preImageHash = (pre: PreImageEntry[]) => hashOf(pre);

/** The expected managed-column image after leg A: plan rows for upserts, null for deletes. */
export function expectedPostImage(spec: TargetSpec, n: { upserts: Row[]; deletes: Row[] }, keys: Row[]): (Row | null)[] {
  const up = new Map(n.upserts.map((r) => [keyText(spec, r), project(r, managed(spec))]));
  return keys.map((k) => up.get(keyText(spec, k)) ?? null);
}

/** The managed-column image of current rows. */
export function managedImage(spec: TargetSpec, rows: (Row | null)[]): (Row | null)[] {
  return rows.map((r) => (r ? project(r, managed(spec)) : null));
}
