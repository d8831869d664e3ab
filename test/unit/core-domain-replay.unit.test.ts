/**
 * Audit replay's rules (src/domain/replay.ts), one by one: each fires with its name and message on a
 * history that breaks it — and only it — and stays silent on the legal history next to it. A
 * violation says where it is (stream, event id, version, type).
 */
import { describe, expect, it } from 'vitest';
import { toStorable, type DomainEvent } from '../../events/index.js';
import { MACHINE_VERSION } from '../../machines/cut.js';
import { replay, stateName, type ReplayInput } from '../../src/domain/index.js';
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
const stored = (events: DomainEvent[]): ReplayInput[] =>
  events.map((e, i) => ({ ...toStorable(e, { machineVersion: MACHINE_VERSION }), version: i + 1 }));
const run = (events: DomainEvent[] | ReplayInput[]) =>
  replay((events[0] && 'metadata' in events[0] ? events : stored(events as DomainEvent[])) as ReplayInput[]);
const rules = (events: DomainEvent[] | ReplayInput[]) => run(events).violations.map((v) => `${v.version}:${v.rule}`);
const messages = (events: DomainEvent[] | ReplayInput[]) => run(events).violations.map((v) => v.message);
const with_ = (e: DomainEvent, data: Record<string, unknown>) =>
  ({ ...e, data: { ...e.data, ...data } }) as DomainEvent;

const approved = [planned(), approval('alice'), approval('bob', 2), ...dryRun()]; // versions 1..10
const live = [...approved, liveStart()]; // 11
const continued = (runId = 'l1', locks = OPEN): DomainEvent => ({
  type: 'RunContinued',
  data: {
    runId,
    planHash: HASH,
    executor: 'postgres-table',
    at: at(15),
    evidence: { at: at(15), locks, approvals: ['alice', 'bob'] },
  },
});
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
const verifyFailed: DomainEvent = {
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
};

describe('legal histories replay clean', () => {
  const legal: Record<string, DomainEvent[]> = {
    'a full run and its revert': [...happy(), revertStart(), reverted()],
    'a halt and a resume': [...live, P.backup!, halted('legA'), resumed(), P.legA!, P.legB!, P.verify!, P.enact!],
    'a run taken up again': [...live, P.backup!, continued(), P.legA!, continued(), P.legB!],
    'a failed verify, then a revert': [
      ...live,
      P.backup!,
      P.legA!,
      P.legB!,
      verifyFailed,
      revertStart(),
      continued('rv1'),
      reverted(),
    ],
    'a failed leg, then a revert': [...live, P.backup!, phaseFailed('legA'), revertStart(), reverted()],
  };
  for (const [name, history] of Object.entries(legal)) {
    it(name, () => {
      const r = run(history);
      expect(r.violations).toEqual([]);
      expect(r.state.version).toBe(history.length);
    });
  }

  it('ends in the state the machine reaches', () => {
    expect(stateName(run([...happy(), revertStart(), reverted()]).state)).toBe('reverted');
    expect(stateName(run([]).state)).toBe('new');
  });
});

describe('where a violation is', () => {
  it('names the stream, event id, version and type when the stored event has them', () => {
    const h = stored([planned(), P.legA!]).map((e, i) => ({ ...e, streamId: 'cut-c1', eventId: `ev-${i + 1}` }));
    expect(replay(h).violations).toEqual([
      {
        streamId: 'cut-c1',
        eventId: 'ev-2',
        version: 2,
        type: 'LegAWritten',
        rule: 'locks-evidence',
        message: 'LegAWritten without a preceding start or resume of run l1 with all three locks open',
      },
      {
        streamId: 'cut-c1',
        eventId: 'ev-2',
        version: 2,
        type: 'LegAWritten',
        rule: 'phase-order',
        message: 'LegAWritten after phase start: skipped or repeated',
      },
    ]);
  });

  it('leaves stream and event id out when the stored event has none', () => {
    const [v] = replay(stored([planned(), approval('alice', 1, { planHash: '9'.repeat(64) })])).violations;
    expect(v).toEqual({
      version: 2,
      type: 'ApprovalGranted',
      rule: 'plan-hash',
      message: `plan hash ${'9'.repeat(12)}… differs from the planned ${HASH.slice(0, 12)}…`,
    });
    expect(Object.keys(v!)).not.toContain('streamId');
    expect(Object.keys(v!)).not.toContain('eventId');
  });
});

describe('version-gap', () => {
  it('fires on a skipped or repeated version, then counts on from the version found', () => {
    const h = stored([planned(), approval('alice'), approval('bob', 2)]);
    expect(rules(h)).toEqual([]);
    const gap = h.map((e, i) => ({ ...e, version: i === 0 ? 1 : i + 2 })); // 1, 3, 4
    expect(rules(gap)).toEqual(['3:version-gap']);
    expect(messages(gap)).toEqual(['version 3 where 2 was expected']);
    const repeated = h.map((e, i) => ({ ...e, version: i === 0 ? 1 : i })); // 1, 1, 2
    expect(messages(repeated)).toEqual(['version 1 where 2 was expected']);
    expect(rules(h.map((e, i) => ({ ...e, version: i + 2 })))).toEqual(['2:version-gap']); // must start at 1
  });
});

describe('executor-mode', () => {
  it('fires on a dry-run event naming the live executor', () => {
    const h = stored([planned(), with_(dryRun()[0]!, { executor: 'postgres-table' })]);
    expect(rules(h)).toEqual(['2:executor-mode', '2:schema']);
    expect(messages(h)[0]).toBe('dry-run event names executor postgres-table');
  });

  it('fires on a live event naming the simulator', () => {
    const h = stored([...live, with_(P.backup!, { executor: 'simulator' })]);
    expect(rules(h)).toEqual(['12:executor-mode', '12:schema']);
    expect(messages(h)[0]).toBe('live event names executor simulator');
    const liveTypes = [
      'BackupTaken',
      'LegAWritten',
      'LegBRecorded',
      'WriteVerified',
      'VerifyFailed',
      'LifecycleEnacted',
      'LiveRunStarted',
      'RunResumed',
      'RunContinued',
      'RunHalted',
      'PhaseFailed',
      'RevertStarted',
      'CutReverted',
      'RevertFailed',
    ];
    for (const t of liveTypes) {
      const e = stored([{ type: t, data: { executor: 'simulator' } } as unknown as DomainEvent])[0]!;
      expect(
        replay([e]).violations.map((v) => v.rule),
        t,
      ).toEqual(['executor-mode', 'schema']);
    }
    for (const t of ['DryRunStarted', 'PhaseSimulated', 'DryRunCompleted']) {
      const e = stored([{ type: t, data: { executor: 'postgres-table' } } as unknown as DomainEvent])[0]!;
      expect(
        replay([e]).violations.map((v) => `${v.rule}: ${v.message}`),
        t,
      ).toEqual(['executor-mode: dry-run event names executor postgres-table', expect.stringMatching(/^schema: /)]);
    }
  });

  it('stays silent when the executor is the right one, or absent (the schema names that)', () => {
    expect(rules(stored([planned(), with_(dryRun()[0]!, { executor: undefined })]))).toEqual(['2:schema']);
    expect(rules(stored([...live, with_(P.backup!, { executor: undefined })]))).toEqual(['12:schema']);
    // Other event types carry no executor rule.
    expect(rules(stored([with_(planned(), { executor: 'simulator' })]))).toEqual(['1:schema']);
  });
});

describe('schema', () => {
  it('fires on data that does not match, naming at most three issues, and replay goes on', () => {
    const h = stored([planned(), approval('alice'), approval('bob', 2)]);
    h[1] = {
      ...h[1]!,
      data: {
        cutId: 1,
        planHash: 2,
        approver: 3,
        at: 4,
        roles: 5,
        decision: 'approve',
        signature: 's',
        publicKey: 'k',
      },
    };
    const r = run(h);
    expect(r.violations.map((v) => v.rule)).toEqual(['schema']);
    const issues = r.violations[0]!.message.split('; ');
    expect(issues).toHaveLength(3);
    for (const i of issues) expect(i).toMatch(/^data\.[a-zA-Z]+: \S/);
    expect(r.state.version).toBe(2); // bob's approval still folded (replay counts the events it folds)
    expect(r.state.snapshot.context.approvals.map((a) => a.approver)).toEqual(['bob']);
    expect(stateName(r.state)).toBe('planned');
  });

  it('fires on an event with no data or an unknown type', () => {
    expect(rules([{ type: 'CutPlanned', data: null, version: 1 }])).toEqual(['1:schema']);
    expect(rules([{ type: 'Mystery', data: {}, metadata: {}, version: 1 }])).toEqual(['1:schema']);
  });
});

describe('plan-hash', () => {
  it('fires when the recorded plan does not hash to the recorded plan hash', () => {
    const h = stored([with_(planned(), { plan: { ...(planned().data as { plan: object }).plan, reason: 'changed' } })]);
    expect(rules(h)).toEqual(['1:plan-hash']);
    expect(messages(h)).toEqual(['the recorded plan does not hash to the recorded plan hash']);
  });

  it('fires when a later event names another plan hash (and only that rule)', () => {
    const other = '9'.repeat(64);
    expect(rules([...approved, with_(liveStart(), { planHash: other })])).toEqual(['11:plan-hash']);
    expect(messages([planned(), with_(dryRun()[0]!, { planHash: other })])).toEqual([
      `plan hash 999999999999… differs from the planned ${HASH.slice(0, 12)}…`,
    ]);
  });

  it('has nothing to compare before a plan: the machine names it', () => {
    expect(rules([approval('alice')])).toEqual(['1:illegal-transition']);
    expect(messages([approval('alice')])).toEqual(['ApprovalGranted is not allowed in state new']);
  });
});

describe('locks-evidence', () => {
  it('fires on a live start, resume or revert recorded with a closed lock', () => {
    for (const closed of [
      { ...OPEN, config: false },
      { ...OPEN, env: false },
      { ...OPEN, killSwitch: false },
    ]) {
      expect(rules([...approved, liveStart('l1', 10, closed)])).toEqual(['11:locks-evidence']);
      expect(rules([...live, P.backup!, halted('legA'), resumed('l1', closed)])).toEqual(['14:locks-evidence']);
      expect(rules([...happy(), revertStart('rv1', closed)])).toEqual(['17:locks-evidence']);
    }
    expect(messages([...approved, liveStart('l1', 10, { ...OPEN, env: false })])).toEqual([
      'LiveRunStarted recorded with a closed lock',
    ]);
    expect(messages([...live, P.backup!, halted('legA'), resumed('l1', { ...OPEN, env: false })])).toEqual([
      'RunResumed recorded with a closed lock',
    ]);
  });

  it('fires on a run taken up with a closed lock, and the run stays shut until started again', () => {
    const h = [...live, P.backup!, continued('l1', { ...OPEN, killSwitch: false }), P.legA!];
    expect(rules(h)).toEqual(['13:locks-evidence', '14:locks-evidence']);
    expect(messages(h)).toEqual([
      'RunContinued recorded with a closed lock',
      'LegAWritten without a preceding start or resume of run l1 with all three locks open',
    ]);
  });

  it('fires on a live mutation after a closed-lock start, even one the machine would take', () => {
    // A start with a closed lock shuts the gate: the backup after it is named for the locks.
    expect(rules([...approved, liveStart('l1', 10, { ...OPEN, env: false }), P.backup!])).toEqual([
      '11:locks-evidence',
      '12:locks-evidence',
    ]);
  });

  it('fires on every live mutation recorded with no run started', () => {
    const mutations = [P.backup!, P.legA!, P.legB!, P.verify!, verifyFailed, P.enact!, reverted()];
    for (const m of mutations) {
      const v = run([...approved, m]).violations;
      expect(
        v.filter((x) => x.rule === 'locks-evidence').map((x) => `${x.version}:${x.message}`),
        m.type,
      ).toEqual([
        `11:${m.type} without a preceding start or resume of run ${(m.data as { runId: string }).runId} with all three locks open`,
      ]);
    }
  });

  it('fires on a live mutation of another run than the one started', () => {
    expect(rules([...live, phaseEvents('other').backup!])).toEqual(['12:locks-evidence']);
  });

  it('fires on a mutation after the run halted, failed or failed its verify, and on a second revert', () => {
    expect(rules([...live, P.backup!, halted('legA'), P.legA!])).toEqual(['14:locks-evidence']);
    expect(rules([...live, P.backup!, phaseFailed('legA'), P.legA!])).toEqual(['14:locks-evidence']);
    expect(rules([...live, P.backup!, P.legA!, P.legB!, verifyFailed, P.enact!])).toEqual(['16:locks-evidence']);
    expect(rules([...happy(), revertStart(), reverted(), reverted()])).toEqual(['19:locks-evidence']);
    expect(rules([...happy(), revertStart(), reverted('other')])).toEqual(['18:locks-evidence']);
  });

  it('lets a revert open the gate for its own run', () => {
    expect(rules([...happy(), revertStart(), reverted()])).toEqual([]);
  });
});

describe('revert-without-backup', () => {
  it('fires on a revert when no backup was taken, not after one was', () => {
    const h = [...live, phaseFailed('backup'), revertStart()];
    expect(rules(h)).toEqual(['13:revert-without-backup']);
    expect(messages(h)).toEqual(['revert started with no backup taken']);
    expect(rules([...live, P.backup!, phaseFailed('legA'), revertStart()])).toEqual([]);
  });
});

describe('phase-order', () => {
  it('fires on a skipped phase and on a repeated one', () => {
    expect(rules([...live, P.backup!, P.legB!])).toEqual(['13:phase-order']);
    expect(messages([...live, P.backup!, P.legB!])).toEqual([
      'LegBRecorded after phase BackupTaken: skipped or repeated',
    ]);
    expect(messages([...live, P.backup!, P.backup!])).toEqual([
      'BackupTaken after phase BackupTaken: skipped or repeated',
    ]);
    expect(messages([...live, P.legA!])).toEqual(['LegAWritten after phase start: skipped or repeated']);
  });

  it('fires on each phase recorded out of its place', () => {
    expect(messages([...live, P.backup!, P.enact!])).toEqual([
      'LifecycleEnacted after phase BackupTaken: skipped or repeated',
    ]);
    expect(messages([...live, P.backup!, P.verify!])).toEqual([
      'WriteVerified after phase BackupTaken: skipped or repeated',
    ]);
    expect(messages([...live, P.backup!, P.legA!, P.legB!, P.verify!, P.enact!, P.enact!])).toEqual([
      'LifecycleEnacted after phase LifecycleEnacted: skipped or repeated',
    ]);
  });

  it('counts a failed verify as the verify phase', () => {
    expect(rules([...live, P.backup!, P.legA!, verifyFailed])).toEqual(['14:phase-order']);
    expect(messages([...live, P.backup!, P.legA!, verifyFailed])).toEqual([
      'VerifyFailed after phase LegAWritten: skipped or repeated',
    ]);
  });

  it('starts the order again at each live start', () => {
    // A second start while live is illegal, but it opens its own run: its backup is in order.
    const second = [...live, P.backup!, liveStart('l2', 12), phaseEvents('l2').backup!];
    expect(rules(second)).toEqual(['13:illegal-transition', '14:illegal-transition']);
  });
});

describe('illegal-transition', () => {
  it('fires when the machine refuses an event no other rule explains', () => {
    expect(rules([...approved, halted('legA')])).toEqual(['11:illegal-transition']);
    expect(messages([...approved, halted('legA')])).toEqual(['RunHalted is not allowed in state approved']);
    expect(run([...approved, halted('legA')]).state.version).toBe(10); // the refused event is not folded
  });
});
