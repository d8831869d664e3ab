/**
 * Decider specs for every transition and every refusal, grouped by state; then the decider and
 * fold against an independent model on random command sequences (test/support/decider-model.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../events/index.js';
import { cutMachine } from '../../machines/cut.js';
import { evolve, stateName } from '../../src/domain/index.js';
import { given } from '../support/decider-spec.js';
import { deciderProperty, KINDS, machineStates, newCoverage } from '../support/decider-model.js';
import {
  approval,
  at,
  dryRun,
  halted,
  happy,
  liveStart,
  OPEN,
  phaseEvents,
  planned,
  resumed,
  reverted,
  revertStart,
} from '../support/cut-events.js';

const P = phaseEvents();

describe('when new', () => {
  it('records CutPlanned', () => given([]).when(planned()).then([planned()]));
  it('refuses anything else: no such cut', () =>
    given([])
      .when(approval('alice'))
      .thenThrows('IllegalTransition', /no such cut/));
});

describe('when planned', () => {
  const h = [planned()];
  it('accepts an approval', () =>
    given(h)
      .when(approval('alice'))
      .then([approval('alice')]));
  it('refuses the author approving (four-eyes)', () =>
    given(h)
      .when(approval('erin'))
      .thenThrows('GovernanceRefused', /author cannot approve/));
  it('refuses a forged signature', () =>
    given(h)
      .when(approval('alice', 1, { forgeWith: 'mallory' }))
      .thenThrows('GovernanceRefused', /signature does not verify/));
  it('refuses an approval bound to another plan hash', () =>
    given(h)
      .when(approval('alice', 1, { planHash: '9'.repeat(64) }))
      .thenThrows('GovernanceRefused', /immutable/));
  it('refuses a duplicate approver', () =>
    given([...h, approval('alice')])
      .when(approval('alice', 2))
      .thenThrows('GovernanceRefused', /already approved/));
  it('becomes approved when the policy is met', () => {
    const s = given([...h, approval('alice'), approval('bob', 2)]).state;
    if (s.snapshot.value !== 'approved') throw new Error(`expected approved, got ${String(s.snapshot.value)}`);
  });
  it('refuses a live run with too few approvals, naming each unmet condition', () =>
    given([...h, approval('alice')])
      .when(liveStart('l1', 10, { ...OPEN, env: false }))
      .thenThrows('GovernanceRefused', /lock 2 closed[\s\S]*1 of 2 required/));
  it('accepts a dry run', () => given(h).when(dryRun()[0]!).then([dryRun()[0]!]));
  it('accepts an abort', () =>
    given(h)
      .when({
        type: 'CutAborted',
        data: { planHash: planned().data.planHash as string, reason: 'no longer needed', at: at(5) },
      })
      .then([
        {
          type: 'CutAborted',
          data: { planHash: planned().data.planHash as string, reason: 'no longer needed', at: at(5) },
        },
      ]));
});

describe('when approved', () => {
  const h = [planned(), approval('alice'), approval('bob', 2)];
  it('refuses a live run without a passing dry run when the policy requires one', () =>
    given(h)
      .when(liveStart())
      .thenThrows('GovernanceRefused', /dry run required/));
  it('refuses a live run after a failed dry run', () =>
    given([...h, ...dryRun('d1', 3, false)])
      .when(liveStart())
      .thenThrows('GovernanceRefused', /dry run required/));
  it('starts a live run with three open locks, approvals and a passing dry run', () =>
    given([...h, ...dryRun()])
      .when(liveStart())
      .then([liveStart()]));
  it('refuses a live run while the kill-switch is engaged', () =>
    given([...h, ...dryRun()])
      .when(liveStart('l1', 10, { ...OPEN, killSwitch: false }))
      .thenThrows('GovernanceRefused', /lock 3 closed/));
  it('refuses a live run when the config lock is closed', () =>
    given([...h, ...dryRun()])
      .when(liveStart('l1', 10, { ...OPEN, config: false }))
      .thenThrows('GovernanceRefused', /lock 1 closed/));
  it('refuses a live run once approvals have expired', () =>
    given([...h, ...dryRun()])
      .when(liveStart('l1', 7200))
      .thenThrows('GovernanceRefused', /expired/));
  it('returns to approved after a dry run', () => {
    const s = given([...h, ...dryRun()]).state;
    if (s.snapshot.value !== 'approved') throw new Error(String(s.snapshot.value));
  });
  it('refuses a simulated phase out of order', () =>
    given([...h, dryRun()[0]!])
      .when(dryRun()[2]!)
      .thenThrows('IllegalTransition'));
});

describe('when live', () => {
  const h = [planned(), approval('alice'), approval('bob', 2), ...dryRun(), liveStart()];
  it('takes the backup first', () => given(h).when(P.backup!).then([P.backup!]));
  it('refuses leg A before the backup (phase order)', () => given(h).when(P.legA!).thenThrows('IllegalTransition'));
  it('refuses a phase of another run', () =>
    given(h).when(phaseEvents('other').backup!).thenThrows('IllegalTransition'));
  it('refuses a second live start', () => given(h).when(liveStart('l2')).thenThrows('IllegalTransition'));
  it('halts at a phase boundary', () =>
    given([...h, P.backup!])
      .when(halted('legA'))
      .then([halted('legA')]));
  it('refuses a halt naming the wrong phase', () =>
    given([...h, P.backup!])
      .when(halted('legB'))
      .thenThrows('IllegalTransition'));
  it('records a failed phase', () => {
    const failed = {
      type: 'PhaseFailed' as const,
      data: {
        runId: 'l1',
        planHash: P.backup!.data.planHash as string,
        executor: 'postgres-table' as const,
        phase: 'legA' as const,
        error: { code: 'GovernanceRefused', message: 'drift' },
        at: at(12),
      },
    };
    given([...h, P.backup!])
      .when(failed)
      .then([failed]);
  });
  it('records a failed verify', () => {
    const vf = {
      type: 'VerifyFailed' as const,
      data: {
        runId: 'l1',
        planHash: P.backup!.data.planHash as string,
        executor: 'postgres-table' as const,
        expectedHash: 'c'.repeat(64),
        actualHash: 'd'.repeat(64),
        mismatches: [{ key: '{"id":"A"}', reason: 'missing' }],
        at: at(12),
      },
    };
    given([...h, P.backup!, P.legA!, P.legB!])
      .when(vf)
      .then([vf]);
  });
  it('refuses a live event that names the simulator', () =>
    given(h)
      .when({ ...P.backup!, data: { ...P.backup!.data, executor: 'simulator' } } as never)
      .thenThrows('IllegalTransition'));
});

describe('when halted', () => {
  const h = [planned(), approval('alice'), approval('bob', 2), ...dryRun(), liveStart(), P.backup!, halted('legA')];
  it('refuses leg A until resumed', () => given(h).when(P.legA!).thenThrows('IllegalTransition'));
  it('refuses a resume while a lock is closed', () =>
    given(h)
      .when(resumed('l1', { ...OPEN, killSwitch: false }))
      .thenThrows('GovernanceRefused', /lock 3/));
  it('resumes at the phase it stopped at (history state)', () => {
    const s = given([...h, resumed()]).state;
    given([...h, resumed()])
      .when(P.legA!)
      .then([P.legA!]);
    if (JSON.stringify(s.snapshot.value) !== JSON.stringify({ live: 'legA' }))
      throw new Error(JSON.stringify(s.snapshot.value));
  });
  it('may be reverted (a backup was taken)', () => given(h).when(revertStart()).then([revertStart()]));
});

describe('when completed', () => {
  const h = happy();
  it('refuses another live start', () => given(h).when(liveStart('l2')).thenThrows('IllegalTransition'));
  it('refuses a revert with a closed lock', () =>
    given(h)
      .when(revertStart('rv1', { ...OPEN, env: false }))
      .thenThrows('GovernanceRefused', /lock 2/));
  it('reverts', () =>
    given([...h, revertStart()])
      .when(reverted())
      .then([reverted()]));
  it('refuses a revert of another backup', () =>
    given(h)
      .when({ ...revertStart(), data: { ...revertStart().data, backupId: 'bk-other' } } as never)
      .thenThrows('IllegalTransition'));
});

describe('when reverted or aborted', () => {
  it('refuses everything', () =>
    given([...happy(), revertStart(), reverted()])
      .when(liveStart('l9'))
      .thenThrows('IllegalTransition'));
  it('refuses a revert of a cut that never took a backup', () =>
    given([planned()]).when(revertStart()).thenThrows('IllegalTransition'));
  it('refuses approvals after an abort', () =>
    given([
      planned(),
      { type: 'CutAborted', data: { planHash: planned().data.planHash as string, reason: 'x', at: at(1) } },
    ])
      .when(approval('alice'))
      .thenThrows('IllegalTransition'));
});

describe('when a live run or a revert was interrupted (a crash, a lost connection)', () => {
  const started = [planned(), approval('alice'), approval('bob', 2), ...dryRun(), liveStart(), P.backup!];
  const continued = (locks = OPEN, runId = 'l1', t = 20): DomainEvent => ({
    type: 'RunContinued',
    data: {
      runId,
      planHash: planned().data.planHash as string,
      executor: 'postgres-table',
      at: at(t),
      evidence: { at: at(t), locks, approvals: ['alice', 'bob'] },
    },
  });
  it('records the evidence of taking the run up again, staying at its phase', () => {
    given(started).when(continued()).then([continued()]);
    expect(stateName(evolve(given(started).state, continued()))).toBe('live.legA');
  });
  it('refuses it with a closed lock', () =>
    given(started)
      .when(continued({ ...OPEN, env: false }))
      .thenThrows('GovernanceRefused', /lock 2 closed/));
  it('refuses it once the approvals expired', () =>
    given(started)
      .when(continued(OPEN, 'l1', 3600 * 3))
      .thenThrows('GovernanceRefused', /expired/));
  it('refuses it for another run', () =>
    given(started)
      .when(continued(OPEN, 'other'))
      .thenThrows('IllegalTransition', /another run/));
  it('refuses it when nothing was interrupted', () =>
    given([planned()])
      .when(continued())
      .thenThrows('IllegalTransition', /interrupted live run or revert/));
  it('takes up an interrupted revert with open locks, whatever the approvals', () => {
    const reverting = [...happy(), revertStart()];
    given(reverting)
      .when(continued(OPEN, 'rv1', 3600 * 3))
      .then([continued(OPEN, 'rv1', 3600 * 3)]);
  });
});

describe('the decider against an independent model (random command sequences)', () => {
  it('accepts exactly what the model says, lands where it says, refuses with its code, and every machine state is reached', () => {
    const coverage = newCoverage();
    const started = Date.now();
    fc.assert(deciderProperty(coverage), { numRuns: 500 });
    const table = [...coverage.states]
      .sort((a, b) => b[1] - a[1])
      .map(([s, n]) => `${s}=${n}`)
      .join(' ');
    const kinds = KINDS.map(
      (k) =>
        `${k}: ${coverage.accepted.get(k) ?? 0} accepted, ${coverage.refused.get(`${k}:IllegalTransition`) ?? 0}+${coverage.refused.get(`${k}:GovernanceRefused`) ?? 0} refused`,
    ).join('; ');
    console.log(
      `decider model: ${coverage.runs} runs, ${coverage.steps} steps, deepest history ${coverage.maxDepth} events, ${Date.now() - started} ms\nstates visited: ${table}\n${kinds}`,
    );
    // Every state of the machine, failures, halts and reverts included, was visited.
    expect([...coverage.states.keys()].sort()).toEqual(machineStates(cutMachine.root).sort());
    expect(machineStates(cutMachine.root)).toHaveLength(17);
    // (Margins: the rarest, verifyFailed, is visited 25–45 times in 500 runs; a kind accepted least, 15–30.)
    for (const state of coverage.states.keys()) expect(coverage.states.get(state), state).toBeGreaterThanOrEqual(5);
    // Every kind of command was both accepted and refused (the clock is never refused).
    for (const kind of KINDS) {
      expect(coverage.accepted.get(kind) ?? 0, kind).toBeGreaterThanOrEqual(3);
      if (kind !== 'clock')
        expect(
          (coverage.refused.get(`${kind}:IllegalTransition`) ?? 0) +
            (coverage.refused.get(`${kind}:GovernanceRefused`) ?? 0),
          kind,
        ).toBeGreaterThanOrEqual(10);
    }
    expect(coverage.maxDepth).toBeGreaterThanOrEqual(20);
  });
});
