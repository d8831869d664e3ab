/**
 * No bypass at run time (issue 13, items 5–8), attacked as an insider would: the bare library
 * `append`, the vault and blobs written directly, a config file edited, the environment changed.
 * Each refusal comes from bin/cutter as a real process before any target row changes, with the
 * CLI's exit code (3 refused, 4 verification failed).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { planHash, type CutPlan } from '../../events/index.js';
import { changeSetBlobId } from '../../src/cuts/changes.js';
import { putBlob } from '../../src/store/blobs.js';
import { cutter } from '../support/cli.js';
import {
  appendBare,
  backupTaken,
  forgedApprovedCut,
  liveStarted,
  readCut,
  storeForgedBackup,
  withStoreDb,
} from '../support/forge.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';
import { dataOf } from '../support/data.js';

let ws: TestWorkspace;
afterEach(async () => ws?.drop());
const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  cutter(args, { cwd: ws.dir, env: { ...ws.env, ...env } });

/** Plans, approves, dry-runs and runs a cut live through the CLI, as honest operators do. */
async function completedCut(id: string): Promise<void> {
  ws.writePlan(id, bigPlan(id, 4, 20));
  for (const [args, who] of [
    [['plan', `${id}.yaml`], 'erin'],
    [['approve', id], 'alice'],
    [['approve', id], 'bob'],
    [['run', id, '--dry-run'], 'erin'],
    [['run', id, '--live'], 'erin'],
  ] as const) {
    const r = await run([...args, '--as', who]);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  }
}

const honestPlan = (id: string): CutPlan => ({
  id,
  target: 'kb',
  author: 'erin',
  reason: 'fix a title',
  changes: [{ upsert: { id: 'KB-0001', title: 'fixed', body: 'body 1' } }],
});
const rowText = async (id: string) =>
  (await ws.target.query`SELECT to_jsonb(d)::text AS r FROM public.documents d WHERE id = ${id}`)[0].r as string;

describe('item 5: all three locks on every live mutation, every resume included', () => {
  it('refuses to resume an interrupted revert while any lock is closed, then resumes when all are open', async () => {
    ws = await testWorkspace({ rows: 20 });
    const pristine = await ws.target.snapshot();
    await completedCut('c5');
    // The revert process died right after recording RevertStarted: the cut is `reverting`.
    const stream = await readCut(ws, 'c5');
    const taken = stream.find((e) => e.type === 'BackupTaken')!;
    const now = new Date().toISOString();
    await appendBare(ws, 'c5', [
      {
        type: 'RevertStarted',
        data: {
          runId: 'revert-crashed',
          planHash: dataOf(taken).planHash,
          executor: 'postgres-table',
          at: now,
          backupId: dataOf(taken).backupId,
          force: false,
          evidence: { at: now, locks: { config: true, env: true, killSwitch: true, killSwitchVersion: 0 } },
        },
      },
    ]);
    const cut = await ws.target.snapshot();

    ws.setExecution(false);
    const lock1 = await run(['revert', 'c5', '--live', '--as', 'erin']);
    expect([lock1.code, lock1.stderr]).toEqual([3, expect.stringContaining('lock 1 closed')]);
    expect(lock1.stderr).toContain('resuming the interrupted revert');
    ws.setExecution(true);

    const lock2 = await run(['revert', 'c5', '--live', '--as', 'erin'], { CUTTER_EXECUTION_ENABLED: undefined });
    expect([lock2.code, lock2.stderr]).toEqual([3, expect.stringContaining('lock 2 closed')]);

    expect((await run(['killswitch', 'engage', '--reason', 'incident', '--as', 'dana'])).code).toBe(0);
    const lock3 = await run(['revert', 'c5', '--live', '--as', 'erin']);
    expect([lock3.code, lock3.stderr]).toEqual([3, expect.stringContaining('lock 3 closed')]);
    expect(lock3.stderr).not.toMatch(/\n\s+at /);
    expect(await ws.target.snapshot()).toEqual(cut);
    expect((await run(['killswitch', 'release', '--as', 'dana'])).code).toBe(0);

    const resumed = await run(['revert', 'c5', '--live', '--as', 'erin', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.json).toMatchObject({ state: 'reverted', runId: 'revert-crashed' });
    expect(await ws.target.snapshot()).toEqual(pristine);
  });

  it('refuses to resume a crashed live run whose approvals expired since it started', async () => {
    ws = await testWorkspace({ rows: 20 });
    const plan = honestPlan('c5b');
    // Approved and started two hours ago (inside the one-hour TTL then); the runner died in backup.
    const f = await forgedApprovedCut(ws, plan, { t0: Date.now() - 2 * 3600_000 });
    await appendBare(ws, 'c5b', [...f.events, liveStarted(f.planHash, 'live-crashed', f.at(10))]);
    const before = await ws.target.snapshot();
    const r = await run(['run', 'c5b', '--live', '--as', 'erin']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('resuming the interrupted live run of cut c5b refused');
    expect(r.stderr).toMatch(/approval by alice: expired/);
    expect(await ws.target.snapshot()).toEqual(before);
    expect((await readCut(ws, 'c5b')).length).toBe(f.events.length + 1);
  });
});

describe('item 6: the recorded plan is re-hashed before it runs', () => {
  it('refuses a dry run and a live run of a CutPlanned whose plan differs from its plan hash (exit 4), writing nothing', async () => {
    ws = await testWorkspace({ rows: 20 });
    const approved = honestPlan('c6');
    const swapped = { ...approved, changes: [{ upsert: { id: 'KB-0002', title: 'pwned', body: 'pwned' } }] };
    const f = await forgedApprovedCut(ws, approved, { recorded: swapped });
    await appendBare(ws, 'c6', f.events);
    const before = await ws.target.snapshot();
    for (const mode of ['--dry-run', '--live']) {
      const r = await run(['run', 'c6', mode, '--as', 'erin']);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain('the recorded plan is not the plan that was approved');
      expect(r.stderr).toContain(`not to its recorded plan hash ${f.planHash.slice(0, 12)}`);
    }
    expect(await ws.target.snapshot()).toEqual(before);
    expect((await readCut(ws, 'c6')).length).toBe(f.events.length);
  });

  it('refuses a change-set plan whose stored change file is not the one hashed (exit 4)', async () => {
    ws = await testWorkspace({ rows: 20 });
    const honest = `${JSON.stringify({ upsert: { id: 'KB-0001', title: 'fixed', body: 'body 1' } })}\n`;
    const evil = `${JSON.stringify({ upsert: { id: 'KB-0003', title: 'pwned', body: 'pwned' } })}\n`;
    const { sha256 } = await import('../../events/canonical.js');
    const sha = sha256(honest);
    const plan: CutPlan = {
      id: 'c6b',
      target: 'kb',
      author: 'erin',
      reason: 'large',
      changeSet: { format: 'ndjson', sha256: sha, bytes: honest.length, count: 1, upserts: 1, deletes: 0 },
    };
    // The blob stored under the honest content's id holds other bytes.
    await withStoreDb(ws, (db) =>
      db.tx((tx) =>
        putBlob(
          tx,
          changeSetBlobId(sha),
          (async function* () {
            yield evil;
          })(),
        ),
      ),
    );
    const f = await forgedApprovedCut(ws, plan);
    expect(f.planHash).toBe(planHash(plan));
    await appendBare(ws, 'c6b', f.events);
    const before = await ws.target.snapshot();
    const r = await run(['run', 'c6b', '--live', '--as', 'erin']);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain('the change set does not match the plan');
    expect(r.stderr).toContain(`differs from the expected ${sha}`);
    expect(await ws.target.snapshot()).toEqual(before);
  });
});

describe('item 7: revert restores only what the plan named, from the backup bound to its run', () => {
  /** A forged cut that failed in leg A, whose BackupTaken binds a forged backup holding `entries`. */
  async function failedCutWithBackup(
    id: string,
    entries: [string, string | null][],
    bind: { plaintextHash?: string } = {},
  ) {
    // The plan's post-image is what the rows hold now, so the target looks "as cut" and revert's
    // drift check passes: only the scope check stands between the backup and the table.
    const plan: CutPlan = {
      id,
      target: 'kb',
      author: 'erin',
      reason: 'no-op',
      changes: [{ upsert: { id: 'KB-0001', title: 'title 1', body: 'body 1' } }],
    };
    const f = await forgedApprovedCut(ws, plan);
    const runId = `live-${id}`;
    const backupId = `bk-${id}`;
    const stored = await storeForgedBackup(ws, { cutId: id, runId, planHash: f.planHash, backupId, entries });
    await appendBare(ws, id, [
      ...f.events,
      liveStarted(f.planHash, runId, f.at(10)),
      backupTaken(f.planHash, runId, f.at(11), backupId, bind.plaintextHash ?? stored.plaintextHash),
      {
        type: 'PhaseFailed',
        data: {
          runId,
          planHash: f.planHash,
          executor: 'postgres-table',
          at: f.at(12),
          phase: 'legA',
          error: { code: 'Internal', message: 'boom' },
        },
      },
    ]);
  }

  it('refuses a backup holding a key the plan does not name (exit 3), naming it, and restores nothing', async () => {
    ws = await testWorkspace({ rows: 20 });
    const own = await rowText('KB-0001');
    const other = JSON.stringify({ ...JSON.parse(await rowText('KB-0005')), title: 'restored by mallory' });
    await failedCutWithBackup('c7', [
      ['{"id": "KB-0001"}', own],
      ['{"id": "KB-0005"}', other],
    ]);
    const before = await ws.target.snapshot();
    const r = await run(['revert', 'c7', '--live', '--as', 'erin']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('the backup holds key {"id":"KB-0005"}, which the plan does not name');
    expect(await ws.target.snapshot()).toEqual(before);
  });

  it('refuses a backup that would change a column the target does not manage (exit 3), naming it', async () => {
    ws = await testWorkspace({ rows: 20 });
    const tampered = JSON.stringify({ ...JSON.parse(await rowText('KB-0001')), revision: 99 });
    await failedCutWithBackup('c7b', [['{"id": "KB-0001"}', tampered]]);
    const before = await ws.target.snapshot();
    const r = await run(['revert', 'c7b', '--live', '--as', 'erin']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('would change column revision of key {"id":"KB-0001"}');
    expect(await ws.target.snapshot()).toEqual(before);
  });

  it('refuses a vault backup that is not the one BackupTaken bound to the run (exit 4)', async () => {
    ws = await testWorkspace({ rows: 20 });
    await failedCutWithBackup('c7c', [['{"id": "KB-0001"}', await rowText('KB-0001')]], {
      plaintextHash: 'f'.repeat(64),
    });
    const before = await ws.target.snapshot();
    const r = await run(['revert', 'c7c', '--live', '--as', 'erin']);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain('BackupTaken recorded ffffffffffff');
    expect(await ws.target.snapshot()).toEqual(before);
  });
});

describe('item 8: one illegal event does not brick a cut', () => {
  it('status and report show the illegal events as violations, and the completed cut still reverts', async () => {
    ws = await testWorkspace({ rows: 20 });
    const pristine = await ws.target.snapshot();
    await completedCut('c8');
    const stream = await readCut(ws, 'c8');
    const planned = stream.find((e) => e.type === 'CutPlanned')!;
    const legA = stream.find((e) => e.type === 'LegAWritten')!;
    await appendBare(ws, 'c8', [
      { type: 'CutPlanned', data: dataOf(planned) },
      { type: 'LegAWritten', data: { ...dataOf(legA), at: new Date().toISOString() } },
    ]);
    const v = stream.length;

    const status = await run(['status', 'c8', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json.violations).toEqual([
      {
        version: v + 1,
        type: 'CutPlanned',
        reason: 'CutPlanned is not allowed in state completed',
        rule: 'illegal-event',
      },
      {
        version: v + 2,
        type: 'LegAWritten',
        reason: 'LegAWritten is not allowed in state completed',
        rule: 'illegal-event',
      },
    ]);
    const human = await run(['status', 'c8']);
    expect(human.stdout).toContain(
      `violation  #${v + 1} CutPlanned: skipped — CutPlanned is not allowed in state completed`,
    );
    expect(human.stdout).toContain(`violation  #${v + 2} LegAWritten: skipped`);

    const report = await run(['report', 'c8']);
    expect(report.code).toBe(4);
    expect(report.stdout).toMatch(new RegExp(`#${v + 1} CutPlanned: illegal-transition`));
    expect(report.stdout).toMatch(new RegExp(`#${v + 2} LegAWritten: \\S+`));
    expect(report.stdout).toContain('COMPLETED');
    expect((await run(['history', 'c8'])).code).toBe(0);

    const reverted = await run(['revert', 'c8', '--live', '--as', 'erin', '--json']);
    expect(reverted.code, reverted.stderr).toBe(0);
    expect(reverted.json).toMatchObject({ state: 'reverted' });
    expect(await ws.target.snapshot()).toEqual(pristine);
  });
});
