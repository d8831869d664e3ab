/**
 * Concurrency against real PostgreSQL: racing writers on one stream (one winner per version, no
 * gaps), a deterministic out-of-order commit that a follower must not skip, NOTIFY after commit,
 * and a property over random interleavings.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrencyError } from '../../src/errors.js';
import { appendToStream } from '../../src/store/append.js';
import { connect } from '../../src/store/connection.js';
import { openStore, START, type Cursor, type EventStore, type StoredEvent } from '../../src/store/index.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { dataOf } from '../support/data.js';

let db: TestDatabase;
let store: EventStore;
beforeAll(async () => {
  db = await freshDatabase();
  store = await openStore(db.url, { poolSize: 12 });
});
afterAll(async () => {
  await store.close();
  await db.drop();
});

let tail: Cursor = START;
async function readEverything(after?: Cursor): Promise<{ events: StoredEvent[]; next: Cursor }> {
  const events: StoredEvent[] = [];
  let cursor = after ?? tail;
  for (;;) {
    const page = await store.readAll({ after: cursor, limit: after ? 7 : 5000 });
    if (!after) tail = page.next;
    events.push(...page.events);
    if (page.events.length === 0) return { events, next: cursor };
    cursor = page.next;
  }
}

describe('racing writers', () => {
  it('gives each version to exactly one of 8 writers, with no gaps', async () => {
    const s = `race-${randomUUID()}`;
    const perWriter = 10;
    const writer = async (w: number) => {
      let wins = 0;
      while (wins < perWriter) {
        const version = await store.streamVersion(s);
        try {
          await store.append(s, [{ type: 'Tick', data: { w, n: wins } }], { expectedVersion: version });
          wins++;
        } catch (err) {
          if (!(err instanceof ConcurrencyError)) throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
    const events = await store.readStream(s);
    expect(events.map((e) => e.version)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    expect(new Set(events.map((e) => `${dataOf(e).w}:${dataOf(e).n}`)).size).toBe(80);
    expect((await store.verifyChain(s)).ok).toBe(true);
  });
});

describe('global reading', () => {
  it('never skips a transaction that took a lower position but committed later', async () => {
    const { next: start } = await readEverything();
    // Only this test's two streams: events of the test before may still surface after `start` (a
    // transaction open in another database held the cluster-wide horizon when `start` was read).
    const tag = randomUUID();
    const ours = (page: { events: StoredEvent[] }) => page.events.filter((e) => e.streamId.endsWith(tag));
    const a = connect(db.url, { poolSize: 1 });
    const b = connect(db.url, { poolSize: 1 });
    let releaseA!: () => void;
    const aMayCommit = new Promise<void>((r) => (releaseA = r));
    let aAppended!: () => void;
    const aHasAppended = new Promise<void>((r) => (aAppended = r));
    const txA = a.tx(async (tx) => {
      await appendToStream(tx, `ooo-a-${tag}`, [{ type: 'A', data: {} }]);
      aAppended();
      await aMayCommit;
    });
    await aHasAppended;
    await b.tx(async (tx) => appendToStream(tx, `ooo-b-${tag}`, [{ type: 'B', data: {} }]));
    // B committed, A (lower position) has not: a follower must not move past A.
    const during = await readEverything(start);
    expect(ours(during).map((e) => e.type)).toEqual([]);
    releaseA();
    await txA;
    let after = await readEverything(during.next);
    // Another database's open transaction (tests share the server) may hold the horizon briefly.
    for (let i = 0; i < 200 && ours(after).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await readEverything(during.next);
    }
    expect(ours(after).map((e) => e.type)).toEqual(['A', 'B']);
    expect(BigInt(ours(after)[0]!.globalPosition)).toBeLessThan(BigInt(ours(after)[1]!.globalPosition));
    await a.dispose();
    await b.dispose();
  });

  it('wakes a subscriber after an append commits', async () => {
    const s = `notify-${randomUUID()}`;
    const heard: string[] = [];
    let wake!: () => void;
    const woke = new Promise<void>((r) => (wake = r));
    const stop = await store.subscribe((id) => {
      heard.push(id);
      if (id === s) wake();
    });
    await store.append(s, [{ type: 'A', data: {} }]);
    await woke;
    await stop();
    expect(heard).toContain(s);
  });

  it('yields every committed event exactly once, each stream in version order (random interleavings)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 4 })), {
          minLength: 1,
          maxLength: 12,
        }),
        async (ops) => {
          const { next: from } = await readEverything();
          const tag = randomUUID().slice(0, 8);
          await Promise.all(
            ops.map(([stream, n], i) =>
              store.append(
                `prop-${tag}-${stream}`,
                Array.from({ length: n }, (_, k) => ({ type: 'E', data: { i, k } })),
              ),
            ),
          );
          // The cursor's horizon is cluster-wide (pg_snapshot_xmin): a transaction still open in another
          // database (other test files share the server) holds new events back until it ends — a
          // follower waits, it never skips. So read until everything committed here is visible.
          const expected = ops.reduce((sum, [, n]) => sum + n, 0);
          let mine: StoredEvent[] = [];
          for (let i = 0; i < 200; i++) {
            const { events } = await readEverything(from);
            mine = events.filter((e) => e.streamId.startsWith(`prop-${tag}-`));
            if (mine.length >= expected) break;
            await new Promise((r) => setTimeout(r, 50));
          }
          expect(mine.length).toBe(expected);
          expect(new Set(mine.map((e) => e.eventId)).size).toBe(mine.length);
          const byStream = new Map<string, number[]>();
          for (const e of mine) byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e.version]);
          for (const versions of byStream.values()) expect(versions).toEqual(versions.map((_, i) => i + 1));
        },
      ),
      { numRuns: 20 },
    );
  });
});
