/**
 * The event store on PostgreSQL: `openStore(url)` migrates schema `cutter` and returns the store.
 * Inline projections given at open run inside each append's transaction; without any, an append
 * is a single statement.
 */
import { appendToStream } from './append.js';
import { verifyChain } from './chain.js';
import { ConcurrencyError } from '../errors.js';
import { connect, sql, type ConnectionPool, type Transaction } from './connection.js';
import { migrate } from './migrations.js';
import { listStreams, readAll, readStream, streamVersion } from './read.js';
import { subscribe } from './subscribe.js';
import type {
  AppendContext,
  AppendResult,
  ChainReport,
  Cursor,
  ExpectedVersion,
  NewEvent,
  StoredEvent,
} from './types.js';

export * from './types.js';
export { appendToStream } from './append.js';
export { migrate } from './migrations.js';

/** Runs inside an append's transaction after its events are inserted; throwing rolls the append back. */
export interface InlineProjection {
  name: string;
  /** Runs in the append's transaction BEFORE its first write (e.g. to take a lock that orders transaction ids). */
  before?(tx: Transaction, streamId: string, events: NewEvent[]): Promise<void>;
  handle(tx: Transaction, events: StoredEvent[]): Promise<void>;
}

export interface AppendOptions {
  expectedVersion?: ExpectedVersion;
  context?: AppendContext;
  /** Append inside this transaction (with the caller's other writes) instead of a new one. */
  tx?: Transaction;
  /**
   * Other streams the appended events rest on, at the versions the decision saw (e.g. the
   * kill-switch a start's lock evidence read): each stream is held against appenders until this
   * append commits, and a stream found at another version throws ConcurrencyError naming it.
   */
  conditions?: StreamCondition[];
}

/** A stream that must still be at `version` when an append commits. */
export interface StreamCondition {
  streamId: string;
  version: number;
}

export interface EventStore {
  db: ConnectionPool;
  url: string;
  append(streamId: string, events: NewEvent[], opts?: AppendOptions): Promise<AppendResult>;
  readStream(streamId: string, opts?: { fromVersion?: number; toVersion?: number }): Promise<StoredEvent[]>;
  /**
   * Events in commit order after `after`. Gapless by default (stops below the oldest running
   * transaction, so a follower never skips one that commits later); `everything: true` reads every
   * event committed now (replay's point-in-time audit).
   */
  readAll(opts?: {
    after?: Cursor;
    limit?: number;
    everything?: boolean;
  }): Promise<{ events: StoredEvent[]; next: Cursor }>;
  streamVersion(streamId: string): Promise<number>;
  listStreams(prefix?: string): Promise<{ streamId: string; version: number }[]>;
  verifyChain(streamId?: string): Promise<ChainReport>;
  subscribe(onNotify: (streamId: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  inlineProjections?: InlineProjection[];
  poolSize?: number;
  /** Send the append as a named prepared statement (default: yes, unless `CUTTER_STORE_PREPARE=off`). */
  preparedStatements?: boolean;
}

/** Opens (and migrates) the store at `url`. */
export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<EventStore> {
  const db = connect(url, {
    poolSize: opts.poolSize ?? 10,
    ...(opts.preparedStatements !== undefined ? { preparedStatements: opts.preparedStatements } : {}),
  });
  try {
    await migrate(db);
  } catch (err) {
    await db.dispose();
    throw err;
  }
  const inline = opts.inlineProjections ?? [];
  const runInline = async (tx: Transaction, events: StoredEvent[]) => {
    for (const p of inline) await p.handle(tx, events);
  };
  return {
    db,
    url,
    async append(streamId, events, o = {}) {
      const options = {
        ...(o.expectedVersion !== undefined ? { expectedVersion: o.expectedVersion } : {}),
        ...(o.context ? { context: o.context } : {}),
      };
      const runBefore = async (tx: Transaction) => {
        for (const p of inline) await p.before?.(tx, streamId, events);
      };
      if (o.tx) {
        await holdConditions(o.tx, o.conditions ?? []);
        await runBefore(o.tx);
        const result = await appendToStream(o.tx, streamId, events, options);
        if (result.appended) await runInline(o.tx, result.events);
        return result;
      }
      if (inline.length === 0 && !o.conditions?.length) return appendToStream(db, streamId, events, options);
      return db.tx(async (tx) => {
        await holdConditions(tx, o.conditions ?? []);
        await runBefore(tx);
        const result = await appendToStream(tx, streamId, events, options);
        if (result.appended) await runInline(tx, result.events);
        return result;
      });
    },
    readStream: (streamId, o) => readStream(db, streamId, o),
    readAll: (o) => readAll(db, o),
    streamVersion: (streamId) => streamVersion(db, streamId),
    listStreams: (prefix) => listStreams(db, prefix),
    verifyChain: (streamId) => verifyChain(db, streamId),
    subscribe: (onNotify) => subscribe(url, onNotify),
    close: () => db.dispose(),
  };
}

/**
 * Holds each condition stream against its appenders until the transaction ends (a shared advisory
 * lock on the key `cutter.append_events` takes exclusively before its first write), then checks its
 * version. Taken before this transaction writes anything, so it gets its transaction id after any
 * append of those streams that committed first, and before any that waits: commit order and
 * transaction-id order agree, which is the order replay judges lock evidence by.
 */
async function holdConditions(tx: Transaction, conditions: StreamCondition[]): Promise<void> {
  const sorted = [...conditions].sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));
  for (const c of sorted) {
    await tx.query(sql`SELECT pg_advisory_xact_lock_shared(hashtextextended(${'cutter.stream:' + c.streamId}, 0))`);
    const actual = await streamVersion(tx, c.streamId);
    if (actual !== c.version) throw new ConcurrencyError(c.streamId, String(c.version), actual);
  }
}
