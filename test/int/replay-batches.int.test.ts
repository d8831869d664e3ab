/**
 * Replay's batched reads (src/audit/stream-batches.ts) against the one-stream-at-a-time reads they
 * replace, on real PostgreSQL: for every batch size, each stream gets the events `readStream` gives,
 * the first chain break `verifyChain` reports (an edited event, a deleted middle event, a deleted
 * head row, a removed tail) and the projection rows `projectionRows` reads, in the same order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStreamBatches } from '../../src/audit/stream-batches.js';
import { projectionRows } from '../../src/projections/store.js';
import { connect, sql } from '../../src/store/connection.js';
import { openStore, type EventStore } from '../../src/store/index.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let store: EventStore;
const STREAMS = ['x-edited', 'x-gap', 'x-headless', 'x-tail', 'x-whole-1', 'x-whole-2', 'x-absent'];

beforeAll(async () => {
  db = await freshDatabase();
  store = await openStore(db.url);
  for (const s of STREAMS.filter((id) => id !== 'x-absent'))
    await store.append(
      s,
      Array.from({ length: 4 }, (_, i) => ({ type: 'Noted', data: { n: i, s, text: 'é ✓ 😀' } })),
    );
  const owner = connect(db.url, { poolSize: 1 });
  try {
    await owner.tx(async (tx) => {
      await tx.query(sql`SET LOCAL session_replication_role = replica`);
      await tx.query(sql`UPDATE cutter.events SET data = '{"n": 99}' WHERE stream_id = 'x-edited' AND version = 2`);
      await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = 'x-gap' AND version = 3`);
      await tx.query(sql`DELETE FROM cutter.streams WHERE stream_id = 'x-headless'`);
      await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = 'x-tail' AND version = 4`);
      for (const [projection, key, stream] of [
        ['runs', 'b', 'x-whole-1'],
        ['runs', 'B', 'x-whole-1'],
        ['runs', 'a', 'x-whole-1'],
        ['cuts', 'x-whole-1', 'x-whole-1'],
        ['cuts', 'x-gap', 'x-gap'],
        ['target_activity', 'x', 'x-whole-1'],
      ] as const)
        await tx.query(sql`INSERT INTO cutter.projection_rows (projection, row_key, stream_id, row)
          VALUES (${projection}, ${key}, ${stream}, ${JSON.stringify({ key })}::jsonb)`);
    });
  } finally {
    await owner.dispose();
  }
}, 120_000);
afterAll(async () => {
  await store.close();
  await db.drop();
});

describe("replay's batched reads", () => {
  it('give each stream what the one-stream reads give, whatever the batch size', async () => {
    const slow = [];
    for (const streamId of STREAMS) {
      const chain = await store.verifyChain(streamId);
      slow.push({
        streamId,
        stored: await store.readStream(streamId),
        chainBreak: chain.ok ? undefined : chain.firstBroken,
        rows: {
          cuts: await projectionRows(store.db, 'cuts', streamId),
          runs: await projectionRows(store.db, 'runs', streamId),
        },
      });
    }
    expect(slow.filter((s) => s.chainBreak).map((s) => s.streamId)).toEqual([
      'x-edited',
      'x-gap',
      'x-headless',
      'x-tail',
    ]);
    for (const batchEvents of [1, 5, 1_000]) {
      const batches = [];
      for await (const b of readStreamBatches(store.db, STREAMS, batchEvents)) batches.push(b);
      expect(batches.length).toBe(batchEvents === 1 ? STREAMS.length : batchEvents === 5 ? 4 : 1);
      expect(batches.flat()).toEqual(slow);
    }
  });
});
