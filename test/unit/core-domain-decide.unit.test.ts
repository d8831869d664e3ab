/**
 * The decider's refusals (src/domain/decide.ts): every refusal is typed, says which cut and state,
 * and a governance refusal lists EVERY unmet condition — not the first one found.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { approvalPayload } from '../../machines/approvals.js';
import { publicKeyText } from '../../src/crypto/approvals.js';
import type { DomainEvent, LockEvidence } from '../../events/index.js';
import { admit, evolve, initialState, refusal, type CutState } from '../../src/domain/index.js';
import { CutterError, GovernanceRefusedError, IllegalTransitionError } from '../../src/errors.js';
import {
  approval,
  at,
  dryRun,
  happy,
  HASH,
  halted,
  liveStart,
  OPEN,
  phaseEvents,
  planned,
  resumed,
  reverted,
  revertStart,
} from '../support/cut-events.js';

const P = phaseEvents();
const through = (events: DomainEvent[]): CutState => events.reduce(evolve, initialState());
const CLOSED: LockEvidence = { config: false, env: false, killSwitch: false, killSwitchVersion: 0 };
const LOCKS = [
  'lock 1 closed: execution.enabled is not true in the config',
  'lock 2 closed: CUTTER_EXECUTION_ENABLED is not 1 in the environment',
  'lock 3 closed: the kill-switch is engaged',
];
const DRY = `dry run required: no passing dry run for plan hash ${HASH.slice(0, 12)}…`;

/** The error `admit` throws, checked to be the one `refusal` explains. */
function refused(history: DomainEvent[] | CutState, event: DomainEvent): CutterError {
  const state = Array.isArray(history) ? through(history) : history;
  let err: unknown;
  try {
    admit(event, state);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CutterError);
  const again = refusal(event, state) as CutterError;
  expect(again.message).toBe((err as Error).message);
  expect(again.code).toBe((err as CutterError).code);
  return err as CutterError;
}
const illegal = (history: DomainEvent[] | CutState, event: DomainEvent) => {
  const e = refused(history, event);
  expect(e).toBeInstanceOf(IllegalTransitionError);
  return e;
};
const governance = (history: DomainEvent[] | CutState, event: DomainEvent) => {
  const e = refused(history, event);
  expect(e).toBeInstanceOf(GovernanceRefusedError);
  return e as GovernanceRefusedError;
};

const approved = [planned(), approval('alice'), approval('bob', 2)];
const ready = [...approved, ...dryRun()];
const live = [...ready, liveStart()];
const haltedH = [...live, P.backup!, halted('legA')];
const continued = (runId = 'l1', locks: LockEvidence = OPEN, t = 15): DomainEvent => ({
  type: 'RunContinued',
  data: {
    runId,
    planHash: HASH,
    executor: 'postgres-table',
    at: at(t),
    evidence: { at: at(t), locks, approvals: ['alice', 'bob'] },
  },
});
const aborted: DomainEvent = { type: 'CutAborted', data: { planHash: HASH, reason: 'x', at: at(1) } };
const phaseFailed = (phase: 'backup' | 'legA'): DomainEvent => ({
  type: 'PhaseFailed',
  data: {
    runId: 'l1',
    planHash: HASH,
    executor: 'postgres-table',
    phase,
    error: { code: 'X', message: 'y' },
    at: at(12),
  },
});

describe('accepting', () => {
  it('returns the command as the one event to record', () => {
    expect(admit(planned(), initialState())).toEqual([planned()]);
    expect(admit(liveStart(), through(ready))).toEqual([liveStart()]);
  });
});

describe('before a plan', () => {
  it('refuses anything but a plan: no such cut, naming the state and the event', () => {
    const e = illegal([], approval('alice'));
    expect(e.message).toBe('cut (unplanned) is new: no such cut has been planned');
    expect(e.details).toEqual({ state: 'new', event: 'ApprovalGranted' });
  });
});

describe('the plan is immutable', () => {
  it('refuses any command bound to another plan hash, as governance, naming both hashes', () => {
    const other = '9'.repeat(64);
    for (const [history, cmd] of [
      [[planned()], approval('alice', 1, { planHash: other })],
      [live, { ...P.backup!, data: { ...P.backup!.data, planHash: other } }],
      [[planned()], { ...planned(), data: { ...planned().data, planHash: other } }],
    ] as [DomainEvent[], DomainEvent][]) {
      const e = governance(history, cmd);
      expect(e.message).toBe(
        `cut c1: plan hash 999999999999… differs from the planned ${HASH.slice(0, 12)}… (the plan is immutable)`,
      );
    }
  });

  it('refuses planning the same cut again', () => {
    expect(illegal([planned()], planned()).message).toBe('cut c1 is planned: it has already been planned');
    expect(illegal([planned()], planned()).details).toEqual({ state: 'planned', event: 'CutPlanned' });
  });
});

describe('approvals', () => {
  it('are recorded only while planned or approved', () => {
    expect(illegal(live, approval('erin')).message).toBe(
      'cut c1 is live.backingUp: approvals are recorded only while planned or approved',
    );
    expect(illegal([planned(), dryRun()[0]!], approval('alice')).message).toBe(
      'cut c1 is dryRun: approvals are recorded only while planned or approved',
    );
  });

  it('refuses a second approval by the same approver, in planned and in approved', () => {
    expect(governance([planned(), approval('alice')], approval('alice', 2)).message).toBe(
      'alice has already approved cut c1',
    );
    expect(governance(approved, approval('bob', 3)).message).toBe('bob has already approved cut c1');
  });

  it('refuses the author, naming why', () => {
    const e = governance([planned()], approval('erin'));
    expect(e.message).toBe('approval by erin refused');
    expect(e.reasons).toEqual([
      'approval by erin: the author cannot approve (four-eyes)',
      'approvals: 0 of 1 required',
    ]);
  });

  it('refuses a forged signature, naming why (the policy roles are not asked of one approval)', () => {
    const e = governance([planned({ roles: ['owner'] })], approval('alice', 1, { forgeWith: 'mallory' }));
    expect(e.reasons).toEqual(['approval by alice: signature does not verify', 'approvals: 0 of 1 required']);
  });

  // An approval signed with `key` under the name `who` (the key it carries is that key).
  const ownKey = generateKeyPairSync('ed25519').privateKey;
  const signedWith = (who: string): DomainEvent => {
    const p = { cutId: 'c1', planHash: HASH, decision: 'approve' as const, at: at(1) };
    return {
      type: 'ApprovalGranted',
      data: {
        ...p,
        approver: who,
        roles: ['dba'],
        signature: sign(null, Buffer.from(approvalPayload(p)), ownKey).toString('base64'),
        publicKey: publicKeyText(ownKey),
      },
    };
  };

  it("refuses the author's key under another name, naming why (four-eyes counts keys)", () => {
    const byKey = { ...planned(), data: { ...planned().data, authorKey: publicKeyText(ownKey) } } as DomainEvent;
    const e = governance([byKey], signedWith('alice'));
    expect(e.message).toBe('approval by alice refused');
    expect(e.reasons).toEqual([
      "approval by alice: signed with the author's key (four-eyes counts keys)",
      'approvals: 0 of 1 required',
    ]);
  });

  it('refuses a key that already approved under another name, naming the first name', () => {
    const e = governance([planned(), signedWith('alice')], signedWith('bob'));
    expect(e.message).toBe('approval by bob refused');
    expect(e.reasons).toEqual([
      'approval by bob: signed with the key that already approved as alice (four-eyes counts keys)',
    ]);
  });

  it('refuses the author once approved too, for being the author (not for a key already seen)', () => {
    expect(governance(approved, approval('erin', 3)).reasons).toEqual([
      'approval by erin: the author cannot approve (four-eyes)',
      'approvals: 0 of 1 required',
    ]);
  });

  it('accepts a third approval once approved', () => {
    expect(admit(approval('mallory', 3), through(approved))).toEqual([approval('mallory', 3)]);
  });
});

describe('a live start lists every unmet condition', () => {
  it('all three locks, the approvals and the dry run, from planned', () => {
    const e = governance([planned(), approval('alice')], liveStart('l1', 10, CLOSED));
    expect(e.message).toBe('live run of cut c1 refused');
    expect(e.reasons).toEqual([...LOCKS, 'approvals: 1 of 2 required', DRY]);
    expect(e.details.reasons).toEqual(e.reasons);
  });

  it('each lock alone', () => {
    for (const [i, k] of (['config', 'env', 'killSwitch'] as const).entries()) {
      expect(governance(ready, liveStart('l1', 10, { ...OPEN, [k]: false })).reasons).toEqual([LOCKS[i]]);
    }
  });

  it('expired approvals alone, judged at the evidence time', () => {
    expect(governance(ready, liveStart('l1', 7200)).reasons).toEqual([
      'approval by alice: expired (older than 3600s)',
      'approval by bob: expired (older than 3600s)',
      'approvals: 0 of 2 required',
    ]);
  });

  it('the dry run alone: none, a failed one, none needed when the policy says so', () => {
    expect(governance(approved, liveStart()).reasons).toEqual([DRY]);
    expect(governance([...approved, ...dryRun('d1', 3, false)], liveStart()).reasons).toEqual([DRY]);
    const noDry = [planned({ requireDryRun: false }), approval('alice'), approval('bob', 2)];
    expect(admit(liveStart(), through(noDry))).toEqual([liveStart()]);
    expect(governance(noDry, liveStart('l1', 10, { ...OPEN, env: false })).reasons).toEqual([LOCKS[1]]);
  });

  it('names the state it needs when the cut is elsewhere', () => {
    expect(illegal(live, liveStart('l2')).message).toBe(
      'cut c1 is live.backingUp: LiveRunStarted needs state approved',
    );
    expect(illegal(haltedH, liveStart('l2', 14, CLOSED)).message).toBe(
      'cut c1 is halted: LiveRunStarted needs state approved',
    );
    expect(illegal([...ready, ...dryRun('d2')].slice(0, -1), liveStart()).details).toEqual({
      state: 'dryRun',
      event: 'LiveRunStarted',
    });
  });

  it('says it is not allowed when every condition holds but the machine still refuses', () => {
    const wrongExecutor = { ...liveStart(), data: { ...liveStart().data, executor: 'simulator' } } as DomainEvent;
    expect(illegal(ready, wrongExecutor).message).toBe('cut c1 is approved: LiveRunStarted is not allowed');
  });
});

describe('a resume lists every unmet condition', () => {
  it('locks and approvals, and no dry run asked', () => {
    const e = governance(haltedH, {
      ...resumed('l1', CLOSED),
      data: { ...resumed('l1', CLOSED).data, evidence: { at: at(7200), locks: CLOSED, approvals: [] } },
    } as DomainEvent);
    expect(e.reasons).toEqual([
      ...LOCKS,
      'approval by alice: expired (older than 3600s)',
      'approval by bob: expired (older than 3600s)',
      'approvals: 0 of 2 required',
    ]);
  });

  it('needs the halted state, and names another run as not allowed', () => {
    expect(illegal(ready, resumed()).message).toBe('cut c1 is approved: RunResumed needs state halted');
    expect(illegal([planned()], resumed('l1', CLOSED)).message).toBe(
      'cut c1 is planned: RunResumed needs state halted',
    );
    expect(illegal(haltedH, resumed('other')).message).toBe('cut c1 is halted: RunResumed is not allowed');
    expect(admit(resumed(), through(haltedH))).toEqual([resumed()]);
  });
});

describe('taking up an interrupted run', () => {
  it('lists the closed locks and the approvals of a live run', () => {
    const e = governance([...live, P.backup!], continued('l1', CLOSED, 7200));
    expect(e.message).toBe('continuing the interrupted run of cut c1 refused');
    expect(e.reasons).toEqual([
      ...LOCKS,
      'approval by alice: expired (older than 3600s)',
      'approval by bob: expired (older than 3600s)',
      'approvals: 0 of 2 required',
    ]);
  });

  it('asks only the locks of a revert', () => {
    const e = governance([...happy(), revertStart()], continued('rv1', { ...OPEN, killSwitch: false }, 7200));
    expect(e.reasons).toEqual([LOCKS[2]]);
    expect(illegal([...happy(), revertStart()], continued('other')).message).toBe(
      'cut c1 is reverting: RunContinued is not allowed (another run?)',
    );
  });

  it('needs a live run or a revert', () => {
    expect(illegal(haltedH, continued()).message).toBe(
      'cut c1 is halted: RunContinued needs an interrupted live run or revert',
    );
    expect(illegal(live, continued('other')).message).toBe(
      'cut c1 is live.backingUp: RunContinued is not allowed (another run?)',
    );
  });
});

describe('a revert lists every unmet condition', () => {
  it('closed locks and a missing backup together', () => {
    const e = governance([...live, phaseFailed('backup')], revertStart('rv1', CLOSED));
    expect(e.message).toBe('revert of cut c1 refused');
    expect(e.reasons).toEqual([...LOCKS, 'no backup was taken: nothing to revert to']);
    expect(governance([...live, phaseFailed('backup')], revertStart()).reasons).toEqual([
      'no backup was taken: nothing to revert to',
    ]);
  });

  it('from every state a revert may start in', () => {
    const states: DomainEvent[][] = [
      happy(),
      haltedH,
      [...live, P.backup!, phaseFailed('legA')],
      [
        ...live,
        P.backup!,
        P.legA!,
        P.legB!,
        {
          type: 'VerifyFailed',
          data: {
            runId: 'l1',
            planHash: HASH,
            executor: 'postgres-table',
            expectedHash: 'c'.repeat(64),
            actualHash: 'd'.repeat(64),
            mismatches: [],
            at: at(12),
          },
        },
      ],
      [
        ...happy(),
        revertStart(),
        {
          type: 'RevertFailed',
          data: {
            runId: 'rv1',
            planHash: HASH,
            executor: 'postgres-table',
            error: { code: 'X', message: 'y' },
            at: at(21),
          },
        },
      ],
    ];
    for (const h of states) {
      expect(governance(h, revertStart('rv2', { ...OPEN, env: false })).reasons).toEqual([LOCKS[1]]);
      expect(admit(revertStart('rv2'), through(h))).toEqual([revertStart('rv2')]);
    }
  });

  it('needs a finished, failed or halted live run; another backup is not allowed', () => {
    expect(illegal(ready, revertStart()).message).toBe(
      'cut c1 is approved: revert needs a finished, failed or halted live run',
    );
    expect(illegal([...happy(), revertStart(), reverted()], revertStart('rv2')).message).toBe(
      'cut c1 is reverted: revert needs a finished, failed or halted live run',
    );
    expect(
      illegal(happy(), { ...revertStart(), data: { ...revertStart().data, backupId: 'bk-other' } } as DomainEvent)
        .message,
    ).toBe('cut c1 is completed: revert is not allowed');
  });
});

describe('every other event', () => {
  it('is refused as not allowed there, naming its type', () => {
    const others: DomainEvent[] = [
      aborted,
      dryRun()[0]!,
      dryRun()[1]!,
      dryRun()[6]!,
      ...Object.values(P),
      phaseFailed('legA'),
      halted('legA'),
      reverted(),
      {
        type: 'VerifyFailed',
        data: {
          runId: 'l1',
          planHash: HASH,
          executor: 'postgres-table',
          expectedHash: 'c'.repeat(64),
          actualHash: 'd'.repeat(64),
          mismatches: [],
          at: at(12),
        },
      },
      {
        type: 'RevertFailed',
        data: {
          runId: 'rv1',
          planHash: HASH,
          executor: 'postgres-table',
          error: { code: 'X', message: 'y' },
          at: at(21),
        },
      },
    ];
    const done = [...happy(), revertStart(), reverted()];
    for (const ev of others) {
      const e = illegal(done, ev);
      expect(e.message).toBe(`cut c1 is reverted: ${ev.type} is not allowed there`);
      expect(e.details).toEqual({ state: 'reverted', event: ev.type });
    }
    expect(illegal([planned(), aborted], approval('alice')).message).toBe(
      'cut c1 is aborted: approvals are recorded only while planned or approved',
    );
  });
});
