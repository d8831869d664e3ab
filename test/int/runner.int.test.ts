/** The governed runner against real PostgreSQL: full cut and revert, locks, halts, drift, exclusivity. */
import { afterEach, describe, expect, it } from 'vitest';
import { setKillSwitch } from '../../src/killswitch/index.js';
import { runLive } from '../../src/runner/live.js';
import { revertCut } from '../../src/runner/revert.js';
import { replayStore } from '../../src/audit/replay.js';
import type { Session } from '../../src/workspace/session.js';
import { bigPlan, readyCut, testWorkspace, type TestWorkspace } from '../support/workspace.js';
import { handleCut } from '../../src/cuts/handle.js';
import { gatherEvidence } from '../../src/runner/evidence.js';
import { ConcurrencyError } from '../../src/errors.js';
import { cutStreamId, KILL_SWITCH_STREAM } from '../../events/streams.js';

let ws: TestWorkspace;
afterEach(async () => ws?.drop());

const as: TestWorkspace['as'] = (actor, fn, env) => ws.as(actor, fn, env);

/** Plans, approves (alice, bob) and dry-runs a cut. */
const ready = (id: string, plan = bigPlan(id, 6, 10)) => readyCut(ws, id, plan);

describe('a live cut', () => {
  it('writes exactly the planned rows with ledger rows and receipts, replays clean, and reverts byte for byte', async () => {
    ws = await testWorkspace({ rows: 10, passphrase: 'p4ss' });
    const before = await ws.target.snapshot();
    await ready('c1');
    const r = await as('erin', (s) => runLive(s, 'c1'));
    expect(r.state).toBe('completed');
    expect(r.phases.map((p) => p.phase)).toEqual(['backup', 'legA', 'legB', 'verify', 'enact']);
    const rows = await ws.target
      .query`SELECT id, title, status FROM public.documents WHERE id IN ('KB-0001', 'NEW-0000006', 'KB-0010') ORDER BY id`;
    expect(rows).toEqual([
      { id: 'KB-0001', title: 'title v2 1', status: 'published' },
      { id: 'NEW-0000006', title: 'title v2 6', status: 'published' },
    ]);
    expect((await ws.target.query`SELECT kind FROM public.cutter_ledger ORDER BY id`).map((x) => x.kind)).toEqual([
      'leg_b',
      'verify',
    ]);
    expect(
      (await ws.target.query`SELECT count(*)::int AS n FROM public.cutter_receipts WHERE run_id = ${r.runId}`)[0].n,
    ).toBe(4);
    const rv = await as('erin', (s) => revertCut(s, 'c1', { mode: 'live', force: false }));
    expect(rv.state).toBe('reverted');
    expect(await ws.target.snapshot()).toEqual(before);
    const replay = await as('auditor', async (s) => replayStore(await s.store(), undefined, { trustRoot: ws.root }));
    expect(replay.violations).toEqual([]);
  });

  const closers: [string, string, () => Promise<unknown> | void, Record<string, string | undefined>][] = [
    ['execution.enabled', 'lock 1 closed', () => ws.setExecution(false), {}],
    ['CUTTER_EXECUTION_ENABLED', 'lock 2 closed', () => undefined, { CUTTER_EXECUTION_ENABLED: undefined }],
    [
      'the kill-switch',
      'lock 3 closed',
      async () => as('dana', (s) => setKillSwitch(s, { action: 'engage', reason: 'freeze' })),
      {},
    ],
  ];
  it.each(closers)('is refused when %s is closed, leaving the target untouched', async (_name, reason, close, env) => {
    ws = await testWorkspace({ rows: 10 });
    await ready('c1');
    await close();
    const before = await ws.target.snapshot();
    const err = await as('erin', (s) => runLive(s, 'c1'), env).catch((e) => e);
    expect(err.code).toBe('GovernanceRefused');
    expect(err.reasons.join('\n')).toContain(reason);
    expect(await ws.target.snapshot()).toEqual(before);
  });
});

describe('the kill-switch mid-run', () => {
  it('halts at the next phase boundary, then resumes to completion', async () => {
    ws = await testWorkspace({ rows: 10 });
    await ready('c1');
    const engageBeforeLegB = async (phase: string) => {
      if (phase === 'legB') await as('dana', (s) => setKillSwitch(s, { action: 'engage', reason: 'incident' }));
    };
    const first = await as('erin', (s) => runLive(s, 'c1', { atBoundary: engageBeforeLegB }));
    expect(first.halted).toEqual({ phase: 'legB', reason: 'kill-switch engaged: incident' });
    expect(first.state).toBe('halted');
    expect(first.phases.map((p) => p.phase)).toEqual(['backup', 'legA']);
    await expect(as('erin', (s) => runLive(s, 'c1'))).rejects.toMatchObject({ code: 'GovernanceRefused' });
    await as('dana', (s) => setKillSwitch(s, { action: 'release' }));
    const second = await as('erin', (s) => runLive(s, 'c1'));
    expect(second.state).toBe('completed');
    const done = [...first.phases, ...second.phases].map((p) => p.phase);
    expect(done).toEqual(['backup', 'legA', 'legB', 'verify', 'enact']);
  });

  // Locks 1 and 2 are read again before every phase too: lock 1 from the config file on disk (an
  // operator flips execution.enabled mid-run), lock 2 from the environment the runner sees.
  const midRun: [string, string, (s: Session) => void, () => void][] = [
    [
      'execution.enabled is set false in the config file',
      'lock 1 closed',
      () => ws.setExecution(false),
      () => ws.setExecution(true),
    ],
    [
      'CUTTER_EXECUTION_ENABLED is unset',
      'lock 2 closed',
      (s) => delete s.env.CUTTER_EXECUTION_ENABLED,
      () => undefined,
    ],
  ];
  it.each(midRun)(
    'halts at the next phase boundary when %s, writing no further phase, then resumes',
    async (_name, reason, close, reopen) => {
      ws = await testWorkspace({ rows: 10 });
      await ready('c1');
      const first = await as('erin', (s) =>
        runLive(s, 'c1', { atBoundary: async (phase) => (phase === 'legB' ? close(s) : undefined) }),
      );
      expect(first.state).toBe('halted');
      expect(first.halted?.phase).toBe('legB');
      expect(first.halted?.reason).toContain(reason);
      expect(first.phases.map((p) => p.phase)).toEqual(['backup', 'legA']);
      const events = await as('auditor', async (s) => (await s.store()).readStream('cut-c1'));
      expect(events.at(-1)).toMatchObject({ type: 'RunHalted', data: { phase: 'legB' } });
      expect((await ws.target.query`SELECT count(*)::int AS n FROM public.cutter_ledger`)[0].n).toBe(0);
      reopen();
      const second = await as('erin', (s) => runLive(s, 'c1'));
      expect(second.state).toBe('completed');
      const replay = await as('auditor', async (s) => replayStore(await s.store(), undefined, { trustRoot: ws.root }));
      expect(replay.violations).toEqual([]);
    },
  );

  it('refuses leg A after a halt when the rows drifted, recording PhaseFailed', async () => {
    ws = await testWorkspace({ rows: 10 });
    await ready('c1');
    const engageBeforeLegA = async (phase: string) => {
      if (phase === 'legA') await as('dana', (s) => setKillSwitch(s, { action: 'engage', reason: 'y' }));
    };
    const first = await as('erin', (s) => runLive(s, 'c1', { atBoundary: engageBeforeLegA }));
    expect(first.state).toBe('halted');
    expect(first.phases.map((p) => p.phase)).toEqual(['backup']);
    await ws.target.query`UPDATE public.documents SET title = 'edited elsewhere' WHERE id = 'KB-0001'`;
    await as('dana', (s) => setKillSwitch(s, { action: 'release' }));
    const err = await as('erin', (s) => runLive(s, 'c1')).catch((e) => e);
    expect(err.message).toMatch(/drift/);
    const events = await as('auditor', async (s) => (await s.store()).readStream('cut-c1'));
    expect(events.at(-1)).toMatchObject({
      type: 'PhaseFailed',
      data: { phase: 'legA', error: { code: 'GovernanceRefused' } },
    });
    const rows = await ws.target.query`SELECT title FROM public.documents WHERE id = 'KB-0001'`;
    expect(rows[0].title).toBe('edited elsewhere');
    const replay = await as('auditor', async (s) => replayStore(await s.store(), undefined, { trustRoot: ws.root }));
    expect(replay.violations).toEqual([]);
  });
});

/**
 * A gate for `runLive`'s `atBoundary` hook (the runner's existing seam): the run announces that it
 * reached `phase` and then waits there until the test releases it. Run 1 is thus provably in the
 * middle of its run (LiveRunStarted recorded, the target and the cut lock held) while run 2 starts.
 */
function boundaryGate(phase: string) {
  let reached!: () => void;
  let release!: () => void;
  const atPhase = new Promise<void>((r) => (reached = r));
  const released = new Promise<void>((r) => (release = r));
  const seen: string[] = [];
  return {
    seen,
    release,
    /** Resolves once `run` waits at the boundary; fails at once if `run` ends without reaching it. */
    reachedBy: (run: Promise<unknown>) =>
      Promise.race([atPhase, run.then(() => Promise.reject(new Error(`the run ended before ${phase}`)))]),
    atBoundary: async (p: string) => {
      seen.push(p);
      if (p !== phase) return;
      reached();
      await released;
    },
  };
}

describe('lock evidence against a kill-switch flipped in the race window', () => {
  it('a start whose evidence read the kill-switch released, engaged before it appends, is decided again and refused', async () => {
    ws = await testWorkspace({ rows: 10 });
    await ready('c1');
    const before = await ws.target.snapshot();
    await as('erin', async (s) => {
      const st = await s.store();
      const auth = await s.authority();
      let attempts = 0;
      const err = await handleCut(
        st,
        'c1',
        async (state) => {
          attempts++;
          const at = new Date().toISOString();
          const { evidence, reasons } = await gatherEvidence(st, s.configFile, s.env, state, at, auth.governance);
          // The window between reading the locks and appending: dana engages the kill-switch.
          if (attempts === 1) await as('dana', (d) => setKillSwitch(d, { action: 'engage', reason: 'race' }));
          return { type: 'RunLive', runId: 'live-race', at, evidence, refusals: reasons } as const;
        },
        auth,
      ).catch((e: unknown) => e);
      expect(attempts).toBe(2);
      expect((err as { code?: string }).code).toBe('GovernanceRefused');
      expect((err as { reasons: string[] }).reasons.join('\n')).toContain('lock 3 closed');
      expect((await st.readStream(cutStreamId('c1'))).map((e) => e.type)).not.toContain('LiveRunStarted');
    });
    expect(await ws.target.snapshot()).toEqual(before);
    const replay = await as('auditor', async (s) => replayStore(await s.store(), undefined, { trustRoot: ws.root }));
    expect(replay.violations).toEqual([]);
  });

  it('the store refuses an append conditioned on a stream that moved, naming it, and writes nothing', async () => {
    ws = await testWorkspace({ rows: 1 });
    await as('dana', async (s) => {
      const st = await s.store();
      await setKillSwitch(s, { action: 'engage', reason: 'x' });
      const err = await st
        .append('scratch-1', [{ type: 'Note', data: {} }], {
          conditions: [{ streamId: KILL_SWITCH_STREAM, version: 0 }],
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConcurrencyError);
      expect((err as ConcurrencyError).streamId).toBe(KILL_SWITCH_STREAM);
      expect(await st.streamVersion('scratch-1')).toBe(0);
      await st.append('scratch-1', [{ type: 'Note', data: {} }], {
        conditions: [{ streamId: KILL_SWITCH_STREAM, version: 1 }],
      });
      expect(await st.streamVersion('scratch-1')).toBe(1);
    });
  });
});

describe('exclusivity', () => {
  it('lets one of two cuts on one target proceed; the other is refused as busy', async () => {
    ws = await testWorkspace({ rows: 10, requireDryRun: false });
    await ready('c1');
    await ready('c2', bigPlan('c2', 4, 10));
    const gate = boundaryGate('legA');
    const run1 = as('erin', (s) => runLive(s, 'c1', { atBoundary: gate.atBoundary }));
    await gate.reachedBy(run1); // run 1 has started, taken its backup, and waits before leg A
    const before = await ws.target.snapshot();
    const refused = await as('erin', (s) => runLive(s, 'c2')).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; reasons: string[] },
    );
    expect(refused).toMatchObject({
      code: 'GovernanceRefused',
      message: 'target busy with cut c1',
      reasons: ['target kb is busy with cut c1'],
    });
    expect(await ws.target.snapshot()).toEqual(before);
    const c2 = await as('auditor', async (s) => (await s.store()).readStream('cut-c2'));
    expect(c2.map((e) => e.type)).not.toContain('LiveRunStarted'); // the refused start rolled back
    gate.release();
    const first = await run1;
    expect(first.state).toBe('completed');
    expect(gate.seen).toEqual(['backup', 'legA', 'legB', 'verify', 'enact']);
    const replay = await as('auditor', async (s) => replayStore(await s.store(), undefined, { trustRoot: ws.root }));
    expect(replay.violations).toEqual([]);
  });

  it('lets one of two runners on one cut proceed, applying no phase twice', async () => {
    ws = await testWorkspace({ rows: 10 });
    await ready('c1');
    const gate = boundaryGate('legA');
    const run1 = as('erin', (s) => runLive(s, 'c1', { atBoundary: gate.atBoundary }));
    await gate.reachedBy(run1);
    const refused = await as('erin', (s) => runLive(s, 'c1')).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(refused).toMatchObject({ code: 'GovernanceRefused', message: 'cut c1 is being run by another runner' });
    gate.release();
    expect((await run1).state).toBe('completed');
    const events = await as('auditor', async (s) => (await s.store()).readStream('cut-c1'));
    for (const type of [
      'LiveRunStarted',
      'BackupTaken',
      'LegAWritten',
      'LegBRecorded',
      'WriteVerified',
      'LifecycleEnacted',
    ]) {
      expect(
        events.filter((e) => e.type === type),
        type,
      ).toHaveLength(1);
    }
    expect(events.map((e) => e.type)).not.toContain('RunContinued');
  });
});
