/**
 * Deterministic faults, one per point (issue #15): bin/cutter as a real process SIGKILLs itself
 * (CUTTER_TEST_FAULT, src/runner/faults.ts) right before a phase's commit or right after it, before
 * its event is appended — for each of the five live phases and for revert. The same command run
 * again must then finish: a phase killed before its commit is applied afresh (nothing marked
 * reconciled), a phase killed after it is recorded from its receipt, marked `reconciled`, and
 * applied once. Each case checks the exit signal, where the run stopped, the flags, the whole
 * target table against the plan (or the pre-image after a revert), and `cutter replay`.
 * The cases share one workspace (each cut on rows of its own) and run in order: a failing case can
 * leave its cut live and the target busy for the cases after it, so read the first failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveCut } from '../../src/cuts/approve.js';
import { planCut } from '../../src/cuts/plan.js';
import { dryRun } from '../../src/runner/dry-run.js';
import { runLive } from '../../src/runner/live.js';
import { connect, sql } from '../../src/store/connection.js';
import { cutter } from '../support/cli.js';
import { landingOf, LIVE_PHASES, PHASE_EVENT, runnerGone } from '../support/crash.js';
import { adminUrl } from '../support/db.js';
import { testWorkspace, type TestWorkspace } from '../support/workspace.js';

type Moment = 'before-commit' | 'after-commit';
type Row = { id: string; title: string; body: string; status: string; revision: number; updated_at: string };

const MOMENTS: Moment[] = ['before-commit', 'after-commit'];
const CASES = [...LIVE_PHASES, 'revert' as const].flatMap((phase) => MOMENTS.map((moment) => ({ phase, moment })));
const SEEDED = 4 * CASES.length;

let ws: TestWorkspace;
const run = (args: string[], fault?: string) =>
  cutter(args, { cwd: ws.dir, env: { ...ws.env, NODE_ENV: 'test', CUTTER_TEST_FAULT: fault } });

beforeAll(async () => {
  ws = await testWorkspace({ rows: SEEDED });
});
afterAll(async () => ws?.drop());

/** Case i revises two seeded rows of its own, inserts two, deletes a third. */
function planOf(cutId: string, i: number) {
  const kb = (k: number) => `KB-${String(4 * i + k).padStart(4, '0')}`;
  return {
    id: cutId,
    target: 'kb',
    author: 'erin',
    reason: `fault ${cutId}`,
    changes: [
      { upsert: { id: kb(1), title: `${cutId} revised 1`, body: 'body ✓ 1' } },
      { upsert: { id: kb(2), title: `${cutId} revised 2`, body: 'body ✓ 2' } },
      { upsert: { id: `NEW-${cutId}-1`, title: `${cutId} new 1`, body: 'new ✓ 1' } },
      { upsert: { id: `NEW-${cutId}-2`, title: `${cutId} new 2`, body: 'new ✓ 2' } },
      { delete: { id: kb(3) } },
    ],
  };
}

/** The whole table as the plan leaves it: revised content, new rows published, the delete applied. */
function planned(before: Row[], plan: ReturnType<typeof planOf>): Row[] {
  const rows = new Map(before.map((r) => [r.id, { ...r }]));
  const defaults = { status: 'published', revision: 1, updated_at: before[0]!.updated_at };
  for (const c of plan.changes) {
    if (c.delete) rows.delete(c.delete.id);
    else if (c.upsert)
      rows.set(c.upsert.id, {
        ...(rows.get(c.upsert.id) ?? { ...defaults, id: c.upsert.id }),
        ...c.upsert,
        status: 'published',
      });
  }
  return byId([...rows.values()]);
}

const byId = (rows: Row[]) => [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
const table = async () => byId((await ws.target.snapshot()) as Row[]);

/** The cut's events: type and the reconciled flag. */
async function eventsOf(cutId: string): Promise<{ type: string; reconciled: boolean }[]> {
  const db = connect(ws.store.url, { poolSize: 1 });
  try {
    const rows = await db.query(
      sql`SELECT type, data FROM cutter.events WHERE stream_id = ${`cut-${cutId}`} ORDER BY version`,
    );
    return rows.map((r) => ({ type: r.type as string, reconciled: r.data.reconciled === true }));
  } finally {
    await db.dispose();
  }
}

async function revertLanding(cutId: string): Promise<{ recorded: boolean; committed: boolean }> {
  const events = await eventsOf(cutId);
  const receipts = await ws.target
    .query`SELECT 1 FROM public.cutter_receipts WHERE cut_id = ${cutId} AND phase = 'revert'`;
  return { recorded: events.some((e) => e.type === 'CutReverted'), committed: receipts.length > 0 };
}

const settled = () => runnerGone(adminUrl(), [ws.store.name, ws.target.db.name]);

describe('a runner SIGKILLed at an exact point resumes by running the same command', () => {
  it.each(CASES.map((c, i) => ({ ...c, i })))('$moment:$phase', async ({ phase, moment, i }) => {
    const cutId = `f${i}`;
    const plan = planOf(cutId, i);
    const file = ws.writePlan(cutId, plan);
    await ws.as('erin', (s) => planCut(s, file));
    await ws.as('alice', (s) => approveCut(s, cutId));
    await ws.as('bob', (s) => approveCut(s, cutId));
    await ws.as('erin', (s) => dryRun(s, cutId));
    const before = await table();
    const fault = `${moment}:${phase}`;
    const after = moment === 'after-commit';

    if (phase === 'revert') {
      await ws.as('erin', (s) => runLive(s, cutId));
      expect(await table()).toEqual(planned(before, plan));
      const killed = await run(['revert', cutId, '--live', '--as', 'erin'], fault);
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      await settled();
      // Before its commit nothing of the revert persists; after it, only its event is missing.
      expect(await revertLanding(cutId)).toEqual({ recorded: false, committed: after });
      expect(await table()).toEqual(after ? before : planned(before, plan));
      const resumed = await run(['revert', cutId, '--live', '--as', 'erin', '--json']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.json.state).toBe('reverted');
      expect(await table()).toEqual(before);
      const events = await eventsOf(cutId);
      expect(events.filter((e) => e.type === 'CutReverted')).toEqual([{ type: 'CutReverted', reconciled: after }]);
      expect(events.filter((e) => e.reconciled && e.type !== 'CutReverted')).toEqual([]);
    } else {
      const killed = await run(['run', cutId, '--live', '--as', 'erin'], fault);
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      await settled();
      // Stopped exactly there: this phase's event missing, its commit done only in the "after" case.
      expect(await landingOf(ws, cutId)).toEqual({ phase, committed: after });
      const resumed = await run(['run', cutId, '--live', '--as', 'erin', '--json']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.json.state).toBe('completed');
      expect(resumed.json.phases.map((p: { phase: string }) => p.phase)).toEqual(
        LIVE_PHASES.slice(LIVE_PHASES.indexOf(phase)),
      );
      expect(
        resumed.json.phases.filter((p: { reconciled: boolean }) => p.reconciled).map((p: { phase: string }) => p.phase),
      ).toEqual(after ? [phase] : []);
      expect(await table()).toEqual(planned(before, plan));
      const events = await eventsOf(cutId);
      for (const p of LIVE_PHASES)
        expect(
          events.filter((e) => e.type === PHASE_EVENT[p]),
          p,
        ).toEqual([{ type: PHASE_EVENT[p], reconciled: after && p === phase }]);
    }
    const replay = await run(['replay', cutId, '--json']);
    expect(replay.code, replay.stdout).toBe(0);
    expect(replay.json.violations).toEqual([]);
  });

  it('ignores the fault unless NODE_ENV is test, and refuses a malformed one before writing anything', async () => {
    const cutId = 'f-guard';
    const plan = { ...planOf(cutId, 0), changes: [{ upsert: { id: `NEW-${cutId}`, title: 'guard', body: 'guard' } }] };
    const file = ws.writePlan(cutId, plan);
    await ws.as('erin', (s) => planCut(s, file));
    await ws.as('alice', (s) => approveCut(s, cutId));
    await ws.as('bob', (s) => approveCut(s, cutId));
    await ws.as('erin', (s) => dryRun(s, cutId));
    const count = async () => (await eventsOf(cutId)).length;
    const recorded = await count();
    const typo = await run(['run', cutId, '--live', '--as', 'erin'], 'after-comit:legA');
    expect(typo.signal).toBeNull();
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain(
      'CUTTER_TEST_FAULT=after-comit:legA: expected <before-commit|after-commit>:<backup|legA|legB|verify|enact|revert>',
    );
    expect(await count()).toBe(recorded);
    const prod = await cutter(['run', cutId, '--live', '--as', 'erin', '--json'], {
      cwd: ws.dir,
      env: { ...ws.env, NODE_ENV: 'production', CUTTER_TEST_FAULT: 'before-commit:backup' },
    });
    expect(prod.signal, prod.stderr).toBeNull();
    expect(prod.code, prod.stderr).toBe(0);
    expect(prod.json.state).toBe('completed');
  });
});
