/**
 * Async projectors: follow the log in commit-safe global order from a stored checkpoint, woken by
 * LISTEN/NOTIFY (with a slow poll as a safety net), applying each batch and advancing the
 * checkpoint in the same transaction — so a restarted projector neither loses nor double-applies.
 */
import { sql, type Queryable, type Transaction } from '../store/connection.js';
import { START, type Cursor, type EventStore, type StoredEvent } from '../store/index.js';

export interface AsyncProjector {
  name: string;
  /** Applies a batch inside the transaction that also advances the checkpoint. */
  apply(tx: Transaction, events: StoredEvent[]): Promise<void>;
}

export async function checkpoint(q: Queryable, projector: string): Promise<Cursor> {
  const [row] = await q.query(
    sql`SELECT txid::text AS txid, position::text AS position FROM cutter.checkpoints WHERE projector = ${projector}`,
  );
  return row ? { txid: row.txid, position: row.position } : START;
}

/** Applies every committed event not yet applied, in batches. Returns how many it applied. */
export async function catchUp(
  store: EventStore,
  projector: AsyncProjector,
  opts: { batch?: number; maxBatches?: number } = {},
): Promise<number> {
  let applied = 0;
  for (let b = 0; b < (opts.maxBatches ?? Infinity); b++) {
    const n = await store.db.tx(async (tx) => {
      await tx.query(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`cutter.projector:${projector.name}`}, 0))`);
      const from = await checkpoint(tx, projector.name);
      const page = await store.readAll({ after: from, limit: opts.batch ?? 1000 });
      if (page.events.length === 0) return 0;
      await projector.apply(tx, page.events);
      await tx.query(sql`
        INSERT INTO cutter.checkpoints (projector, txid, position)
        VALUES (${projector.name}, ${page.next.txid}::xid8, ${page.next.position}::bigint)
        ON CONFLICT (projector) DO UPDATE SET txid = EXCLUDED.txid, position = EXCLUDED.position, updated_at = now()`);
      return page.events.length;
    });
    if (n === 0) break;
    applied += n;
  }
  return applied;
}

/** Follows the log until `signal` aborts: catch up, then wait for a NOTIFY (or `pollMs`). */
export async function follow(
  store: EventStore,
  projector: AsyncProjector,
  signal: AbortSignal,
  pollMs = 2000,
): Promise<void> {
  let wake: () => void = () => undefined;
  const unsubscribe = await store.subscribe(() => wake());
  try {
    while (!signal.aborted) {
      await catchUp(store, projector);
      // One abort listener per wait, removed when the wait ends (a long follow must not pile them up).
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, pollMs);
        wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  } finally {
    await unsubscribe();
  }
}
