/**
 * `rebuildProjections` reads the log through a cursor in pages and writes rows in batches: whatever
 * the page and batch sizes (streams split across pages, several batches), it produces exactly the
 * rows and target claims the inline projection maintained, and still refuses a target held twice.
 * Approval signatures verified on worker threads ahead of the fold give the same rows as the slow
 * path (each verified by the machine's guard, one at a time), forged signatures included.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MACHINE_VERSION } from '../../machines/cut.js';
import { toStorable, type DomainEvent } from '../../events/index.js';
import { cutProjection } from '../../src/projections/inline.js';
import { rebuildProjections } from '../../src/projections/rebuild.js';
import { sql, type Queryable } from '../../src/store/connection.js';
import { openStore, type EventStore } from '../../src/store/index.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import {
  approval,
  dryRun,
  fullLive,
  halted,
  liveStart,
  phaseEvents,
  planned,
  reverted,
  revertStart,
} from '../support/cut-events.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => db.drop());

const storable = (events: DomainEvent[]) => events.map((e) => toStorable(e, { machineVersion: MACHINE_VERSION }));
const base = () => [planned(), approval('alice'), approval('bob', 2), ...dryRun()];
const P = phaseEvents();

const state = async (q: Queryable) => ({
  rows: await q.query(
    sql`SELECT projection, row_key, stream_id, row FROM cutter.projection_rows WHERE projection IN ('cuts', 'runs') ORDER BY projection, row_key COLLATE "C"`,
  ),
  claims: await q.query(sql`SELECT target, cut_id, run_id FROM cutter.active_target_runs ORDER BY target`),
});

describe('rebuild in pages and batches', () => {
  it('equals the inline projection whatever the page and batch sizes', async () => {
    const store: EventStore = await openStore(db.url, { inlineProjections: [cutProjection] });
    try {
      const histories: DomainEvent[][] = [
        [...base(), ...fullLive(), revertStart(), reverted()],
        [planned()],
        [...base(), liveStart(), P.backup!, P.legA!, halted('legB')], // halted: holds target kb
        [...base(), ...fullLive()],
        base(),
        [planned(), approval('alice')],
        [...base(), ...fullLive(), revertStart()],
      ];
      // Every cut on its own target except the one that holds kb, so claims never collide.
      const ids = histories.map(() => `cut-${randomUUID()}`);
      for (const [i, h] of histories.entries()) {
        const events =
          i === 2
            ? h
            : h.map(
                (e) => (e.type === 'CutPlanned' ? { ...e, data: { ...e.data, target: `t${i}` } } : e) as DomainEvent,
              );
        await store.append(ids[i]!, storable(events));
      }
      // A stream that is not a cut is left alone.
      await store.append(`other-${randomUUID()}`, [{ type: 'Noise', data: {}, metadata: {} }]);
      const inline = await state(store.db);
      expect(inline.claims.map((c) => c.target)).toEqual(['kb', 't6']); // halted, and reverting
      const total = histories.reduce((n, h) => n + h.length, 0);
      for (const opts of [
        {},
        { batchStreams: 1, fetchEvents: 1 },
        { batchStreams: 2, fetchEvents: 7 },
        { batchStreams: 3, fetchEvents: 13 },
        { batchStreams: 100, fetchEvents: total },
      ]) {
        expect(await rebuildProjections(store.db, opts)).toMatchObject({ streams: histories.length, events: total });
        expect(await state(store.db), JSON.stringify(opts)).toEqual(inline);
      }
    } finally {
      await store.close();
    }
  });

  it('refuses a target held by two cuts, naming the holder', async () => {
    const store: EventStore = await openStore(db.url); // no inline projection: the log alone has the conflict
    try {
      const holding = [...base(), liveStart(), P.backup!].map(
        (e) => (e.type === 'CutPlanned' ? { ...e, data: { ...e.data, target: 'shared' } } : e) as DomainEvent,
      );
      const [a, b] = [`cut-a-${randomUUID()}`, `cut-b-${randomUUID()}`];
      await store.append(a, storable(holding));
      await store.append(b, storable(holding));
      for (const opts of [{}, { batchStreams: 1, fetchEvents: 5 }]) {
        const err = await rebuildProjections(store.db, opts).catch((e: unknown) => e);
        expect(err).toMatchObject({ message: `target busy with cut ${a.slice('cut-'.length)}` });
      }
    } finally {
      await store.close();
    }
  });

  it('verifies approvals on worker threads with the result of the one-at-a-time fold, forgeries included', async () => {
    const own = await freshDatabase(); // a log of these cuts alone
    const store: EventStore = await openStore(own.url, { inlineProjections: [cutProjection] });
    try {
      // 100 cuts, each with two approvals signed at its own instants (so 200 distinct signatures);
      // every 9th cut's second approval is forged (signed by mallory's key, claiming bob's).
      const forged = new Set<number>();
      for (let i = 0; i < 100; i++) {
        if (i % 9 === 4) forged.add(i);
        const h = [
          planned(),
          approval('alice', -10 * i),
          approval('bob', -10 * i - 1, forged.has(i) ? { forgeWith: 'mallory' } : {}),
          ...dryRun(),
        ].map((e) => (e.type === 'CutPlanned' ? { ...e, data: { ...e.data, target: `v${i}` } } : e) as DomainEvent);
        await store.append(`cut-${String(i).padStart(3, '0')}-${randomUUID()}`, storable(h));
      }
      const inline = await state(store.db);
      const states = inline.rows.filter((r) => r.projection === 'cuts').map((r) => r.row.state as string);
      // The forged approvals were refused: those cuts never left `planned` (the others are dry-run passed).
      expect(states.filter((x) => x === 'planned')).toHaveLength(forged.size);
      const slow = await rebuildProjections(store.db, { verifyThreads: 0 });
      expect(slow.verifiedAhead).toBe(0);
      expect(await state(store.db)).toEqual(inline);
      // Pages of 333 events hold ~66 approvals (enough for the workers) and split streams across pages.
      for (const opts of [
        { verifyThreads: 2 },
        { verifyThreads: 1, fetchEvents: 333 },
        { verifyThreads: 2, fetchEvents: 333, batchStreams: 7 },
      ]) {
        const fast = await rebuildProjections(store.db, opts);
        expect(fast.verifiedAhead, JSON.stringify(opts)).toBeGreaterThanOrEqual(190);
        expect(fast).toMatchObject({ streams: slow.streams, events: slow.events });
        expect(await state(store.db), JSON.stringify(opts)).toEqual(inline);
      }
    } finally {
      await store.close();
      await own.drop();
    }
  });
});
