/**
 * Versioned, idempotent migrations of schema `cutter`. `migrate` takes a transaction-scoped
 * advisory lock, so two processes opening the store at once apply each migration exactly once.
 */
import { sql, type Queryable } from './connection.js';
import { APPEND_DEFINER } from './sql/append-definer.js';
import { APPEND_FUNCTION } from './sql/append-function.js';
import { APPEND_V2 } from './sql/append-v2.js';
import { APPEND_V3 } from './sql/append-v3.js';
import { APPEND_V4 } from './sql/append-v4.js';
import { APPEND_INDEX_PLANS } from './sql/append-index-plans.js';
import { APPEND_V5 } from './sql/append-v5.js';
import { BLOBS_SCHEMA } from './sql/blobs-schema.js';
import { EVENTS_SCHEMA } from './sql/events-schema.js';
import { PROJECTIONS_SCHEMA } from './sql/projections-schema.js';

export interface Migration {
  version: number;
  name: string;
  up: string;
}

export const MIGRATIONS: Migration[] = [
  { version: 1, name: 'events, streams, backups, immutability', up: EVENTS_SCHEMA },
  { version: 2, name: 'append function (one round trip, hash chain, notify)', up: APPEND_FUNCTION },
  { version: 3, name: 'projections, checkpoints, active target runs', up: PROJECTIONS_SCHEMA },
  { version: 4, name: 'blobs: large change files and streamed backups', up: BLOBS_SCHEMA },
  { version: 5, name: 'cheaper appends: notify subscribers only, no head lock, cursor as primary key', up: APPEND_V2 },
  {
    version: 6,
    name: 'append function as the only way in: SECURITY DEFINER, pinned search_path, no EXECUTE for PUBLIC',
    up: APPEND_DEFINER,
  },
  {
    version: 7,
    name: 'append in fewer statements: one head read, idempotency by ON CONFLICT, one head write',
    up: APPEND_V3,
  },
  { version: 8, name: 'append: one event inserted by a one-row VALUES', up: APPEND_V4 },
  {
    version: 9,
    name: 'append: index plans whatever the statistics (no sequential scan of the log)',
    up: APPEND_INDEX_PLANS,
  },
  { version: 10, name: "append: the recorded time within five minutes of the server's clock", up: APPEND_V5 },
];

/**
 * Applies every migration not yet applied. Safe to call concurrently. Returns the versions applied.
 * A store already current costs one read and needs no DDL privilege (least-privilege writers).
 */
export async function migrate(db: Queryable & { tx: any }): Promise<number[]> {
  const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
  const current = await db
    .query(sql`SELECT coalesce(max(version), 0) AS v FROM cutter.migrations`)
    .then((rows) => Number(rows[0]?.v ?? 0))
    .catch(() => 0);
  if (current >= latest) return [];
  return db.tx(async (tx: Queryable) => {
    await tx.query(sql`SELECT pg_advisory_xact_lock(hashtext('cutter.migrate'))`);
    await tx.query(sql`CREATE SCHEMA IF NOT EXISTS cutter`);
    await tx.query(sql`CREATE TABLE IF NOT EXISTS cutter.migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await tx.query(sql`SELECT version FROM cutter.migrations`)).map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await tx.query(sql.__dangerous__rawValue(m.up));
      await tx.query(sql`INSERT INTO cutter.migrations (version, name) VALUES (${m.version}, ${m.name})`);
      applied.push(m.version);
    }
    return applied;
  });
}
