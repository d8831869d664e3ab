/**
 * Crash safety with real SIGKILLs: a live run of a large cut is killed at a random moment (fast-check
 * picks it; seeds replayable), then the same command is run again until the cut completes. After
 * each trial: every phase recorded exactly once, receipts and events agree, the target holds exactly
 * the planned rows, the backup is stored once, and the log replays clean.
 * CUTTER_CRASH_TRIALS raises the number of trials (scripts/crash-campaign.sh uses it).
 */
import { spawn } from 'node:child_process';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayStore } from '../../src/audit/replay.js';
import { approveCut } from '../../src/cuts/approve.js';
import { planCut } from '../../src/cuts/plan.js';
import { dryRun } from '../../src/runner/dry-run.js';
import { connect, sql } from '../../src/store/connection.js';
import { BIN } from '../support/cli.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';

const TRIALS = Number(process.env.CUTTER_CRASH_TRIALS ?? 10);
const ROWS = 4000;
let ws: TestWorkspace;

beforeAll(async () => {
  ws = await testWorkspace({ rows: 3000 });
});
afterAll(async () => ws?.drop());

const as: TestWorkspace['as'] = (actor, fn, env) => ws.as(actor, fn, env);

/** Runs `cutter run <cut> --live`, SIGKILLing it after `killAfterMs` (if still running). */
function liveRun(cutId: string, killAfterMs?: number): Promise<{ code: number | null; killed: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'run', cutId, '--live', '--as', 'erin'], { cwd: ws.dir, env: { ...process.env, ...ws.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let killed = false;
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => { killed = child.kill('SIGKILL'); }, killAfterMs);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, killed: killed && code === null, stderr });
    });
  });
}

describe('SIGKILL during a live run', () => {
  it(`recovers every time by re-running (${TRIALS} trials)`, async () => {
    let trial = 0;
    let kills = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2500 }), async (killAfterMs) => {
        const cutId = `crash-${++trial}`;
        const plan = bigPlan(cutId, ROWS, 3000);
        plan.changes = plan.changes.map((c: any) => (c.upsert ? { upsert: { ...c.upsert, title: `${c.upsert.title} t${trial}` } } : c));
        if (trial % 2 === 0) plan.changes.pop(); // the delete of the previous trial's key is not repeated
        const file = ws.writePlan(cutId, plan);
        await as('erin', (s) => planCut(s, file));
        await as('alice', (s) => approveCut(s, cutId));
        await as('bob', (s) => approveCut(s, cutId));
        await as('erin', (s) => dryRun(s, cutId));
        const first = await liveRun(cutId, killAfterMs);
        if (first.killed) kills++;
        let last = first;
        for (let i = 0; i < 4 && last.code !== 0; i++) last = await liveRun(cutId);
        expect(last.code, last.stderr).toBe(0);

        const store = connect(ws.store.url, { poolSize: 1 });
        const events = await store.query(sql`SELECT type, data FROM cutter.events WHERE stream_id = ${`cut-${cutId}`} ORDER BY version`);
        const runId = events.find((e) => e.type === 'LiveRunStarted')!.data.runId;
        for (const type of ['LiveRunStarted', 'BackupTaken', 'LegAWritten', 'LegBRecorded', 'WriteVerified', 'LifecycleEnacted']) {
          expect(events.filter((e) => e.type === type), `${type} once (kill at ${killAfterMs} ms)`).toHaveLength(1);
        }
        const backups = await store.query(sql`SELECT count(*)::int AS n FROM cutter.backups WHERE run_id = ${runId}`);
        await store.dispose();
        expect(backups[0].n).toBe(1);
        const receipts = await ws.target.query`SELECT phase, digest FROM public.cutter_receipts WHERE run_id = ${runId} ORDER BY phase`;
        const byPhase = Object.fromEntries(receipts.map((r) => [r.phase, r.digest]));
        expect(byPhase).toEqual({
          legA: events.find((e) => e.type === 'LegAWritten')!.data.receipt,
          legB: events.find((e) => e.type === 'LegBRecorded')!.data.receipt,
          verify: events.find((e) => e.type === 'WriteVerified')!.data.receipt,
          enact: events.find((e) => e.type === 'LifecycleEnacted')!.data.receipt,
        });
        const sample = await ws.target.query`SELECT title, status FROM public.documents WHERE id = 'NEW-0003999'`;
        expect(sample).toEqual([{ title: `title v2 3999 t${trial}`, status: 'published' }]);
        const report = await as('auditor', async (s) => replayStore(await s.store(), cutId));
        expect(report.violations).toEqual([]);
      }),
      { numRuns: TRIALS, seed: Number(process.env.CUTTER_CRASH_SEED ?? 20261125) },
    );
    console.log(`crash trials: ${TRIALS}, killed mid-run: ${kills}`);
    expect(kills).toBeGreaterThan(0);
  });
});
