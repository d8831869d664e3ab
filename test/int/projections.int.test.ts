/** Async projectors (checkpointed, restartable), rebuild equality, and `watch` following a live run. */
import { afterEach, describe, expect, it } from 'vitest';
import { watch } from '../../src/audit/watch.js';
import { replayStore } from '../../src/audit/replay.js';
import { activityProjector } from '../../src/projections/activity.js';
import { catchUp } from '../../src/projections/follower.js';
import { projectionRows, rebuildProjections } from '../../src/projections/store.js';
import { runLive } from '../../src/runner/live.js';
import { sql } from '../../src/store/connection.js';
import type { StoredEvent } from '../../src/store/index.js';
import { bigPlan, readyCut, testWorkspace, type TestWorkspace } from '../support/workspace.js';
import { withStoreDb } from '../support/forge.js';

let ws: TestWorkspace;
afterEach(async () => ws?.drop());

const as: TestWorkspace['as'] = (actor, fn, env) => ws.as(actor, fn, env);

const ready = (id: string, n = 6) => readyCut(ws, id, bigPlan(id, n, 10));

describe('projections', () => {
  it('an async projector stopped part-way resumes from its checkpoint without loss or double application', async () => {
    ws = await testWorkspace({ rows: 10 });
    await ready('c1');
    await as('erin', (s) => runLive(s, 'c1'));
    await ready('c2', 3);
    await as('auditor', async (s) => {
      const store = await s.store();
      const [{ n: total }] = await store.db.query(sql`SELECT count(*)::int AS n FROM cutter.events`);
      const first = await catchUp(store, activityProjector, { batch: 7, maxBatches: 2 });
      expect(first).toBeLessThanOrEqual(14);
      // The horizon is cluster-wide: wait out any transaction another test holds open on the server.
      let rest = 0;
      for (let i = 0; i < 200 && first + rest < total; i++) {
        rest += await catchUp(store, activityProjector, { batch: 7 });
        if (first + rest < total) await new Promise((r) => setTimeout(r, 50));
      }
      expect(first + rest).toBe(total);
      expect(await catchUp(store, activityProjector)).toBe(0);
      const [incremental] = await projectionRows(store.db, 'target_activity');
      expect(incremental).toMatchObject({ target: 'kb', cuts: 2, liveRuns: 1, rowsWritten: 7, reverts: 0 });
      // Rebuild: inline projections refolded, async ones reset and refolded from the start.
      const before = await store.db.query(
        sql`SELECT projection, row_key, row FROM cutter.projection_rows WHERE projection IN ('cuts','runs') ORDER BY projection, row_key`,
      );
      const rebuilt = await rebuildProjections(store.db);
      expect(rebuilt.streams).toBe(2);
      let refolded = 0;
      for (let i = 0; i < 200 && refolded < total; i++) {
        refolded += await catchUp(store, activityProjector, { batch: 5 });
        if (refolded < total) await new Promise((r) => setTimeout(r, 50));
      }
      expect(refolded).toBe(total);
      const [again] = await projectionRows(store.db, 'target_activity');
      expect({ ...again, lastEventAt: null }).toEqual({ ...incremental, lastEventAt: null });
      const after = await store.db.query(
        sql`SELECT projection, row_key, row FROM cutter.projection_rows WHERE projection IN ('cuts','runs') ORDER BY projection, row_key`,
      );
      expect(after).toEqual(before);
      expect((await replayStore(store, undefined, { trustRoot: ws.root })).violations).toEqual([]);
    });
  });

  it('watch follows a live run committed by another session until it settles', async () => {
    ws = await testWorkspace({ rows: 10 });
    await ready('c1');
    const seen: StoredEvent[] = [];
    const watcher = ws.session('auditor');
    const store = await watcher.store();
    const watching = watch(store, { cutId: 'c1', timeoutMs: 60_000, onEvent: (e) => seen.push(e) });
    await new Promise((r) => setTimeout(r, 300));
    await as('erin', (s) => runLive(s, 'c1'));
    const r = await watching;
    await watcher.close();
    expect(r.settled).toBe(true);
    expect(seen.map((e) => e.type)).toEqual([
      'LiveRunStarted',
      'BackupTaken',
      'LegAWritten',
      'LegBRecorded',
      'WriteVerified',
      'LifecycleEnacted',
    ]);
  });

  it('watch leaves out what was committed before it began, even when a transaction open elsewhere hides it', async () => {
    ws = await testWorkspace({ rows: 10 });
    // A transaction left open on the server since before the plan holds back the gapless horizon,
    // so the tail a new watch starts from lies before the plan's, approvals' and dry run's events.
    let release!: () => void;
    let begun!: () => void;
    const started = new Promise<void>((resolve) => (begun = resolve));
    const held = withStoreDb(ws, (db) =>
      db.tx(async (tx) => {
        await tx.query(sql`SELECT pg_current_xact_id()`);
        begun();
        await new Promise<void>((resolve) => (release = resolve));
      }),
    );
    await started;
    await ready('c1');
    const seen: StoredEvent[] = [];
    const watcher = ws.session('auditor');
    const watching = watch(await watcher.store(), { cutId: 'c1', timeoutMs: 60_000, onEvent: (e) => seen.push(e) });
    await new Promise((r) => setTimeout(r, 300));
    await as('erin', (s) => runLive(s, 'c1')).finally(() => release());
    await held;
    const r = await watching;
    await watcher.close();
    expect(r.settled).toBe(true);
    expect(seen.map((e) => e.type)).toEqual([
      'LiveRunStarted',
      'BackupTaken',
      'LegAWritten',
      'LegBRecorded',
      'WriteVerified',
      'LifecycleEnacted',
    ]);
  });
});
