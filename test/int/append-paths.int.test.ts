/**
 * The append's fast paths against the obvious ones (issue #18), on real PostgreSQL:
 * - the append sent as a named prepared statement stores exactly what the unnamed statement stores;
 * - migration 8's one-event `VALUES` insert writes the rows the batch path (`unnest`) writes for
 *   the same events;
 * - the prepared statement survives what a long-lived connection meets: a lost race, an error
 *   inside a caller's transaction, an idempotent re-append.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrencyError } from '../../src/errors.js';
import { preparedStatementsByDefault, sql } from '../../src/store/connection.js';
import { openStore, type EventStore } from '../../src/store/index.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let preparing: EventStore;
let plain: EventStore;
beforeAll(async () => {
  db = await freshDatabase();
  // One connection each, so the statements a query finds in `pg_prepared_statements` are its own.
  preparing = await openStore(db.url, { poolSize: 1, preparedStatements: true });
  plain = await openStore(db.url, { poolSize: 1, preparedStatements: false });
});
afterAll(async () => {
  await preparing?.close();
  await plain?.close();
  await db?.drop();
});

const statements = async (store: EventStore) =>
  (await store.db.query(sql`SELECT name FROM pg_prepared_statements ORDER BY name`)).map((r) => r.name as string);

/** A stored row as the database holds it, without what depends on when or where it was written. */
const rowsOf = async (store: EventStore, streamId: string) =>
  (
    await store.db.query(sql`
      SELECT version, event_id::text, type, data::text, metadata::text, recorded_at, digest, prev_hash, hash
      FROM cutter.events WHERE stream_id = ${streamId} ORDER BY version`)
  ).map((r) => ({ ...r, recorded_at: (r.recorded_at as Date).toISOString() }));

describe('the append as a named prepared statement', () => {
  it('is prepared once per connection when preparing, never otherwise', async () => {
    const s = `p-${randomUUID()}`;
    for (let v = 0; v < 3; v++) await preparing.append(s, [{ type: 'A', data: { v } }], { expectedVersion: v });
    expect(await statements(preparing)).toEqual(['cutter_append_events']);
    const t = `u-${randomUUID()}`;
    for (let v = 0; v < 3; v++) await plain.append(t, [{ type: 'A', data: { v } }], { expectedVersion: v });
    expect(await statements(plain)).toEqual([]);
  });

  it('stores byte for byte what the unnamed statement stores', async () => {
    // The same events (ids included) appended by each pool to the same stream name, one pool at a
    // time: the first pool's rows are read, then removed by rolling back inside a transaction.
    const streamId = `same-${randomUUID()}`;
    const events = Array.from({ length: 7 }, (_, i) => ({
      id: randomUUID(),
      type: i % 2 ? 'B' : 'A',
      data: { i, text: 'é\u2028"\\', nested: { list: [i, null, true, 1.5e-7] } },
      metadata: { note: `n${i}` },
    }));
    const appendAll = async (store: EventStore) => {
      const out: Record<string, unknown>[] = [];
      await store.db
        .tx(async (tx) => {
          await store.append(streamId, [events[0]!], { expectedVersion: 'no_stream', tx });
          await store.append(streamId, events.slice(1, 4), { expectedVersion: 1, tx });
          for (let v = 4; v < events.length; v++)
            await store.append(streamId, [events[v]!], { expectedVersion: v, tx });
          out.push(
            ...(
              await tx.query(sql`
                SELECT version, event_id::text, type, data::text, metadata::text, digest, prev_hash, hash
                FROM cutter.events WHERE stream_id = ${streamId} ORDER BY version`)
            ).map((r) => ({ ...r, metadata: JSON.parse(r.metadata as string) })),
          );
          throw new Error('roll back');
        })
        .catch((err: Error) => {
          if (err.message !== 'roll back') throw err;
        });
      return out;
    };
    const viaPrepared = await appendAll(preparing);
    const viaPlain = await appendAll(plain);
    expect(viaPrepared).toHaveLength(7);
    // recorded_at (hence digest and hash) is the clock's at each call, and host/pid are the same
    // process: compare everything the clock does not set, then recompute the rest in the next test.
    const stable = (rows: Record<string, unknown>[]) =>
      rows.map(({ digest: _d, prev_hash: _p, hash: _h, ...rest }) => rest);
    expect(stable(viaPrepared)).toEqual(stable(viaPlain));
  });

  it('keeps working on its connection after a lost race, an error in a transaction and a re-append', async () => {
    const s = `r-${randomUUID()}`;
    await preparing.append(s, [{ type: 'A', data: {} }], { expectedVersion: 0 });
    await expect(preparing.append(s, [{ type: 'B', data: {} }], { expectedVersion: 0 })).rejects.toBeInstanceOf(
      ConcurrencyError,
    );
    await expect(
      preparing.db.tx(async (tx) => {
        await preparing.append(s, [{ type: 'B', data: {} }], { expectedVersion: 1, tx });
        await tx.query(sql`SELECT 1/0`);
      }),
    ).rejects.toThrow(/division by zero/);
    const id = randomUUID();
    const first = await preparing.append(s, [{ id, type: 'B', data: { x: 1 } }], { expectedVersion: 1 });
    const again = await preparing.append(s, [{ id, type: 'B', data: { x: 1 } }], { expectedVersion: 1 });
    expect(first.appended).toBe(true);
    expect(again).toMatchObject({ appended: false, nextVersion: 2 });
    expect((await rowsOf(preparing, s)).map((r) => r.type)).toEqual(['A', 'B']);
    expect(await statements(preparing)).toEqual(['cutter_append_events']);
  });

  it('stays prepared when the transaction that first sent it rolls back', async () => {
    const fresh = await openStore(db.url, { poolSize: 1, preparedStatements: true });
    try {
      const s = `rb-${randomUUID()}`;
      await expect(
        fresh.db.tx(async (tx) => {
          await fresh.append(s, [{ type: 'A', data: {} }], { expectedVersion: 0, tx });
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await statements(fresh)).toEqual(['cutter_append_events']);
      await fresh.append(s, [{ type: 'A', data: {} }], { expectedVersion: 0 });
      expect((await rowsOf(fresh, s)).map((r) => [r.version, r.type])).toEqual([[1, 'A']]);
    } finally {
      await fresh.close();
    }
  });

  it('is on unless CUTTER_STORE_PREPARE turns it off', () => {
    expect(preparedStatementsByDefault({})).toBe(true);
    expect(preparedStatementsByDefault({ CUTTER_STORE_PREPARE: 'on' })).toBe(true);
    for (const off of ['off', 'OFF', 'false', '0', 'no'])
      expect(preparedStatementsByDefault({ CUTTER_STORE_PREPARE: off })).toBe(false);
  });
});

describe("migration 8's one-event insert", () => {
  it('writes the rows the batch path writes for the same events', async () => {
    // cutter.append_events called directly, so recorded_at and the digests are fixed: n calls of
    // one event (the VALUES path) against one call of n events (unnest), rolled back in between.
    const streamId = `v-${randomUUID()}`;
    const n = 6;
    const ids = Array.from({ length: n }, () => randomUUID());
    const types = ids.map((_, i) => `T${i % 3}`);
    const data = ids.map((_, i) => JSON.stringify({ i, s: 'x'.repeat(i * 50), u: '\u00e9' }));
    const meta = ids.map((id) => JSON.stringify({ eventId: id }));
    const digests = ids.map((_, i) => `${i}`.repeat(64).slice(0, 64));
    const at = new Date().toISOString(); // one time for both runs (the server refuses one 5 min off its clock)
    const read = (tx: { query: EventStore['db']['query'] }) =>
      tx.query(sql`
        SELECT stream_id, version, event_id::text, type, data::text, metadata::text, recorded_at, digest, prev_hash, hash
        FROM cutter.events WHERE stream_id = ${streamId} ORDER BY version`);
    const run = async (batched: boolean) => {
      let rows: unknown[] = [];
      const returned: unknown[] = [];
      await plain.db
        .tx(async (tx) => {
          const call = async (from: number, to: number, expected: string) =>
            returned.push(
              ...(
                await tx.query(sql`
                  SELECT r_version, r_prev_hash, r_hash, r_existing FROM cutter.append_events(
                    ${streamId}, ${expected}, ${ids.slice(from, to)}::uuid[], ${types.slice(from, to)}::text[],
                    ${data.slice(from, to)}::jsonb[], ${meta.slice(from, to)}::jsonb[], ${digests.slice(from, to)}::text[],
                    ${at}::timestamptz)`)
              ).map((r) => ({ ...r })),
            );
          if (batched) {
            await call(0, 1, 'no_stream'); // the stream's first event is one-event in both runs: a new head row
            await call(1, n, '1');
          } else for (let i = 0; i < n; i++) await call(i, i + 1, String(i));
          rows = await read(tx);
          throw new Error('roll back');
        })
        .catch((err: Error) => {
          if (err.message !== 'roll back') throw err;
        });
      return { rows, returned };
    };
    const single = await run(false);
    const batch = await run(true);
    expect(single.rows).toHaveLength(n);
    expect(single.rows).toEqual(batch.rows);
    expect(single.returned).toEqual(batch.returned);
  });
});

describe("migration 9's index plans", () => {
  it('never scan the log sequentially, on a store never analysed', async () => {
    // A store of its own, never analysed (the test does not wait for autovacuum), on one connection
    // whose first append plans the function's statements while the log is small. The scans are the
    // transaction's own (`pg_stat_xact_user_tables`): before migration 9, every append here read
    // `cutter.events` sequentially for its idempotency probe.
    const own = await freshDatabase();
    const store = await openStore(own.url, { poolSize: 1 });
    try {
      const streamId = `plans-${randomUUID()}`;
      const scans = await store.db.tx(async (tx) => {
        // The backend's counts not yet reported (the store's own reads on opening it) show here
        // too, so the appends' scans are the difference.
        const count = async () =>
          (
            await tx.query(sql`
              SELECT seq_scan::int AS seq, idx_scan::int AS idx FROM pg_stat_xact_user_tables
              WHERE schemaname = 'cutter' AND relname = 'events'`)
          )[0] as { seq: number; idx: number };
        const before = await count();
        for (let v = 0; v < 20; v++)
          await store.append(streamId, [{ type: 'A', data: { v } }], { expectedVersion: v, tx });
        await store.append(
          streamId,
          Array.from({ length: 5 }, (_, i) => ({ type: 'B', data: { i } })),
          { tx },
        );
        const again = { id: randomUUID(), type: 'C', data: {} };
        await store.append(streamId, [again], { tx });
        await store.append(streamId, [again], { tx }); // the idempotent re-append's re-read
        const after = await count();
        return { seq: after.seq - before.seq, idx: after.idx - before.idx };
      });
      expect(scans.idx).toBeGreaterThanOrEqual(23); // the counter counts this transaction's lookups
      expect(scans.seq).toBe(0);
    } finally {
      await store.close();
      await own.drop();
    }
  });
});
