/**
 * The fold (src/domain/state.ts): the state a history folds to — its name, version, last time,
 * context and summary — what a strict fold refuses and a lenient one skips (with the reason), and
 * a state built from a bare XState snapshot read the same way as a folded one.
 */
import { describe, expect, it } from 'vitest';
import { toStorable, type DomainEvent } from '../../events/index.js';
import { MACHINE_VERSION } from '../../machines/cut.js';
import {
  accepts,
  context,
  evolve,
  fold,
  foldLenient,
  initialState,
  nextLivePhase,
  stateName,
  summary,
  toDomain,
  tryEvolve,
  type CutState,
} from '../../src/domain/index.js';
import { IllegalTransitionError } from '../../src/errors.js';
import {
  approval,
  at,
  dryRun,
  halted,
  happy,
  HASH,
  liveStart,
  phaseEvents,
  planned,
  resumed,
  revertStart,
  reverted,
} from '../support/cut-events.js';

const P = phaseEvents();
const stored = (events: DomainEvent[]) =>
  events.map((e, i) => ({ ...toStorable(e, { machineVersion: MACHINE_VERSION }), version: i + 1 }));
const through = (events: DomainEvent[]) => events.reduce(evolve, initialState());
/** The same state seen only through its XState snapshot (as a caller holding a bare snapshot would). */
const bare = (s: CutState): CutState => ({ snapshot: s.snapshot, version: s.version });
const approved = [planned(), approval('alice'), approval('bob', 2), ...dryRun()];

describe('the initial state', () => {
  it('is new, at version 0, with no time and an empty context', () => {
    const s = initialState();
    expect(stateName(s)).toBe('new');
    expect(s.version).toBe(0);
    expect(s.lastAt).toBeUndefined();
    expect(context(s)).toMatchObject({ cutId: '', planHash: '', approvals: [], liveRuns: 0 });
    expect(JSON.parse(JSON.stringify(s))).toEqual({ snapshot: expect.any(Object), version: 0 });
    expect(nextLivePhase(s)).toBeNull();
  });

  it('accepts only CutPlanned', () => {
    expect(accepts(initialState(), planned())).toBe(true);
    expect(accepts(initialState(), approval('alice'))).toBe(false);
    expect(tryEvolve(initialState(), approval('alice'))).toBeUndefined();
  });
});

describe('evolving one event', () => {
  it('counts versions and keeps the time of the last event', () => {
    const s1 = evolve(initialState(), planned());
    expect(s1.version).toBe(1);
    expect(s1.lastAt).toBe(at(0));
    const s2 = evolve(s1, approval('alice', 7));
    expect(s2.version).toBe(2);
    expect(s2.lastAt).toBe(at(7));
    expect(s1.version).toBe(1); // the earlier state is not changed
    expect(JSON.parse(JSON.stringify(s2))).toMatchObject({ version: 2, lastAt: at(7), snapshot: { value: 'planned' } });
  });

  it('keeps the previous time when an event carries none, and has none when no event did', () => {
    const s1 = evolve(initialState(), planned());
    const noTime = {
      type: 'DryRunStarted',
      data: { runId: 'd1', planHash: HASH, executor: 'simulator' },
    } as unknown as DomainEvent;
    const s2 = tryEvolve(s1, noTime)!;
    expect(stateName(s2)).toBe('dryRun');
    expect(s2.lastAt).toBe(at(0));
    const untimed = { type: 'CutPlanned', data: { ...planned().data, at: '' } } as DomainEvent;
    const s3 = tryEvolve(initialState(), untimed)!;
    expect(s3.version).toBe(1);
    expect(s3.lastAt).toBeUndefined();
    expect(JSON.parse(JSON.stringify(s3))).not.toHaveProperty('lastAt');
  });

  it('throws IllegalTransitionError naming the event and the state it was refused in', () => {
    const s = through([planned()]);
    let err: unknown;
    try {
      evolve(s, P.backup!);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IllegalTransitionError);
    expect((err as Error).message).toBe('BackupTaken is not allowed in state planned');
    expect((err as IllegalTransitionError).details).toEqual({ state: 'planned', event: 'BackupTaken' });
  });
});

describe('state names and the live phase', () => {
  it('names nested states with a dot and gives the phase the runner must run next', () => {
    const live = through([...approved, liveStart()]);
    expect(stateName(live)).toBe('live.backingUp');
    expect(nextLivePhase(live)).toBe('backup');
    const legA = evolve(live, P.backup!);
    expect(stateName(legA)).toBe('live.legA');
    expect(nextLivePhase(legA)).toBe('legA');
    const h = evolve(legA, halted('legA'));
    expect(stateName(h)).toBe('halted');
    expect(nextLivePhase(h)).toBeNull(); // halted keeps context.phase, but is not mid-run
    expect(context(h).phase).toBe('legA');
    expect(nextLivePhase(evolve(h, resumed()))).toBe('legA');
    expect(nextLivePhase(through(happy()))).toBeNull();
    expect(stateName(through(happy()))).toBe('completed');
  });

  it('reads a state given only as an XState snapshot the same way as a folded one', () => {
    for (const history of [
      [],
      [planned()],
      approved,
      [...approved, liveStart(), P.backup!],
      [...approved, liveStart(), P.backup!, halted('legA')],
      happy(),
      [...happy(), revertStart(), reverted()],
    ]) {
      const s = through(history);
      const b = bare(s);
      expect(stateName(b)).toBe(stateName(s));
      expect(context(b)).toEqual(context(s));
      expect(summary(b)).toEqual(summary(s));
      expect(nextLivePhase(b)).toBe(nextLivePhase(s));
    }
    const live = bare(through([...approved, liveStart()]));
    expect(stateName(live)).toBe('live.backingUp');
    expect(accepts(live, P.backup!)).toBe(true);
    expect(accepts(live, P.legA!)).toBe(false);
    const next = evolve(live, P.backup!);
    expect(stateName(next)).toBe('live.legA');
    expect(next.version).toBe(live.version + 1);
  });
});

describe('the summary', () => {
  it('reports a planned cut with nothing run yet', () => {
    expect(summary(through([planned()]))).toEqual({
      cutId: 'c1',
      state: 'planned',
      planHash: HASH,
      target: 'kb',
      author: 'erin',
      approvals: [],
      runId: null,
      phase: null,
      lastDryRun: null,
      backupId: null,
      version: 1,
    });
  });

  it('reports approvals, the last dry run, the run, its phase and its backup', () => {
    expect(summary(through([...approved, liveStart(), P.backup!]))).toEqual({
      cutId: 'c1',
      state: 'live.legA',
      planHash: HASH,
      target: 'kb',
      author: 'erin',
      approvals: ['alice', 'bob'],
      runId: 'l1',
      phase: 'legA',
      lastDryRun: { runId: 'd1', passed: true },
      backupId: 'bk-1',
      version: 12,
    });
    expect(summary(through([planned(), ...dryRun('d9', 3, false)])).lastDryRun).toEqual({ runId: 'd9', passed: false });
  });
});

describe('parsing and folding stored events', () => {
  it('parses a stored event, and throws naming its type when it does not match its schema', () => {
    expect(toDomain(stored([planned()])[0]!)).toEqual(planned());
    expect(() => toDomain({ type: 'CutPlanned', data: { cutId: 'c1' } })).toThrow(IllegalTransitionError);
    expect(() => toDomain({ type: 'CutPlanned', data: { cutId: 'c1' } })).toThrow(
      'event CutPlanned does not match its schema',
    );
  });

  it('folds a history to the state evolve reaches, and refuses an illegal one', () => {
    const h = [...happy(), revertStart(), reverted()];
    const s = fold(stored(h));
    expect(summary(s)).toEqual(summary(through(h)));
    expect(stateName(s)).toBe('reverted');
    expect(s.version).toBe(h.length);
    expect(s.lastAt).toBe(at(21));
    expect(stateName(fold([]))).toBe('new');
    expect(() => fold(stored([planned(), P.legA!]))).toThrow('LegAWritten is not allowed in state planned');
  });
});

describe('the lenient fold', () => {
  it('folds a legal history like fold, skipping nothing', () => {
    const r = foldLenient(stored(happy()));
    expect(r.skipped).toEqual([]);
    expect(summary(r.state)).toEqual(summary(fold(stored(happy()))));
  });

  it('skips an event the machine refuses, naming it, and keeps counting the stream version', () => {
    const h = stored([planned(), P.legA!, approval('alice')]);
    const r = foldLenient(h);
    expect(r.skipped).toEqual([
      { version: 2, type: 'LegAWritten', reason: 'LegAWritten is not allowed in state planned' },
    ]);
    expect(r.state.version).toBe(3);
    expect(summary(r.state).approvals).toEqual(['alice']);
  });

  it('skips an event whose schema fails, naming at most three issues with their paths', () => {
    const h = [
      ...stored([planned()]),
      {
        type: 'ApprovalGranted',
        data: {
          cutId: 7,
          planHash: 'x',
          approver: 3,
          at: 'no',
          roles: 'r',
          decision: 'approve',
          signature: 's',
          publicKey: 'k',
        },
        metadata: { schemaVersion: 2 },
        version: 2,
      },
      { type: 'NoSuchEvent', data: {}, version: 3 },
    ];
    const r = foldLenient(h);
    expect(r.skipped.map((s) => [s.version, s.type])).toEqual([
      [2, 'ApprovalGranted'],
      [3, 'NoSuchEvent'],
    ]);
    const reason = r.skipped[0]!.reason;
    expect(reason).toMatch(/^does not match its schema \(.+\)$/);
    const issues = reason.slice('does not match its schema ('.length, -1).split('; ');
    expect(issues).toHaveLength(3);
    for (const issue of issues) expect(issue).toMatch(/^[A-Za-z.]+: \S/);
    expect(issues[0]).toMatch(/^data\.cutId: /);
    expect(r.state.version).toBe(1);
    expect(stateName(r.state)).toBe('planned');
  });

  it('takes the version from the stored event, or its position when it has none', () => {
    const noVersions = stored([planned(), P.legA!, approval('alice')]).map(({ version: _v, ...e }) => e);
    const r = foldLenient(noVersions);
    expect(r.skipped.map((s) => s.version)).toEqual([2]);
    expect(r.state.version).toBe(3);
    const gapped = stored([planned(), approval('alice')]).map((e, i) => ({ ...e, version: 10 * (i + 1) }));
    expect(foldLenient(gapped).state.version).toBe(20);
  });

  it('names a nested issue path with dots', () => {
    const bad = stored([planned()])[0]!;
    const r = foldLenient([
      {
        ...bad,
        data: {
          ...(bad.data as object),
          policy: { ...(planned().data as { policy: object }).policy, requiredApprovals: 0 },
        },
      },
    ]);
    expect(r.skipped).toHaveLength(1);
    expect(r.skipped[0]!.reason).toContain('data.policy.requiredApprovals: ');
  });
});
