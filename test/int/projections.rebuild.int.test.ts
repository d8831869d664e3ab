/**
 * `rebuildProjections` reads the log through a cursor in pages and writes rows in batches: whatever
 * the page and batch sizes (streams split across pages, several batches), it produces exactly the
 * rows and target claims the inline projection maintained, and still refuses a target held twice.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MACHINE_VERSION } from '../../machines/cut.js';
import { toStorable, type DomainEvent } from '../../events/index.js';
import { cutProjection, rebuildProjections } from '../../src/projections/store.js';
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
        expect(await rebuildProjections(store.db, opts)).toEqual({ streams: histories.length, events: total });
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
});
