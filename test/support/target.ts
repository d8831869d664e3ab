/** A seeded target table in a fresh database, for adapter, runner and CLI tests. */
import { connect, sql, type SQLQuery } from '../../src/store/connection.js';
import type { TargetSpec } from '../../src/config/target.js';
import { freshDatabase, type TestDatabase } from './db.js';

export interface SeededTarget {
  db: TestDatabase;
  spec: TargetSpec;
  /** Every row as to_jsonb, ordered by id: for byte-for-byte comparisons. */
  snapshot(): Promise<unknown[]>;
  query(text: TemplateStringsArray, ...values: unknown[]): Promise<any[]>;
}

/**
 * A custom target table instead of `public.documents`: the statements that create and seed it, and
 * the spec's table, key, content and lifecycle columns. Its snapshot is every row's `to_jsonb` text
 * (read under an alias no plain column name can shadow), in text order.
 */
export interface CustomTable {
  setup: SQLQuery[];
  spec: Omit<TargetSpec, 'url'>;
}

export async function seededTarget(rows = 50, adminUrl?: string, custom?: CustomTable): Promise<SeededTarget> {
  const db = await freshDatabase('cutter_target', adminUrl);
  const pool = connect(db.url, { poolSize: 2 });
  if (custom) {
    for (const q of custom.setup) await pool.query(q);
  } else {
    await pool.query(sql`CREATE TABLE public.documents (
    id text PRIMARY KEY, title text NOT NULL, body text NOT NULL, status text NOT NULL DEFAULT 'draft',
    revision integer NOT NULL DEFAULT 1, updated_at timestamptz NOT NULL DEFAULT '2026-01-01T00:00:00Z')`);
    await pool.query(sql`INSERT INTO public.documents (id, title, body, status)
    SELECT 'KB-' || lpad(g::text, 4, '0'), 'title ' || g, 'body ' || g, 'published' FROM generate_series(1, ${rows}) g`);
  }
  await pool.dispose();
  const spec: TargetSpec = custom
    ? { ...custom.spec, url: db.url }
    : {
        name: 'kb',
        url: db.url,
        table: 'public.documents',
        key: ['id'],
        columns: ['title', 'body'],
        lifecycle: { column: 'status', value: 'published' },
      };
  const run = async (q: ReturnType<typeof sql>) => {
    const p = connect(db.url, { poolSize: 1 });
    try {
      return await p.query(q);
    } finally {
      await p.dispose();
    }
  };
  const [schema, table] = spec.table.includes('.') ? spec.table.split('.') : ['public', spec.table];
  const snapshot = custom
    ? sql`SELECT to_jsonb("$row")::text AS r FROM ${sql.ident(schema!, table!)} "$row" ORDER BY 1`
    : sql`SELECT to_jsonb(d) AS r FROM public.documents d ORDER BY id`;
  return {
    db,
    spec,
    snapshot: async () => (await run(snapshot)).map((r) => r.r),
    query: (text, ...values) => run(sql(text, ...values)),
  };
}
