/**
 * Properties of the pure core: random command sequences — the decider accepts exactly what an
 * independent model says is legal; accepted histories replay clean and deterministically; invariants
 * hold; changing any one event makes replay report a violation. Plus graph coverage, the upcaster,
 * and diagrams generated from the machine.
 */
import fc from 'fast-check';
import { getShortestPaths } from '@xstate/graph';
import { describe, expect, it, vi } from 'vitest';
import { parseStored, toStorable, type DomainEvent } from '../../events/index.js';
import { cutMachine, MACHINE_VERSION } from '../../machines/cut.js';
import { toDot, toMermaid, machineGraph } from '../../machines/diagram.js';
import { decide, evolve, fold, initialState, replay, stateName, summary } from '../../src/domain/index.js';
import { approval, dryRun, halted, happy, liveStart, OPEN, phaseEvents, planned, resumed, reverted, revertStart } from '../support/cut-events.js';

const stored = (events: DomainEvent[]) => events.map((e, i) => ({ ...toStorable(e, { machineVersion: MACHINE_VERSION }), version: i + 1 }));

/** Candidate commands; an independent model (below) says which are legal where. */
const P = phaseEvents();
const CANDIDATES: Record<string, DomainEvent> = {
  approveAlice: approval('alice'), approveBob: approval('bob', 2), approveErin: approval('erin'),
  dryStart: dryRun()[0]!, ...Object.fromEntries(dryRun().slice(1, 6).map((e, i) => [`sim${i}`, e])), dryDone: dryRun()[6]!,
  live: liveStart(), liveClosed: liveStart('l1', 10, { ...OPEN, env: false }),
  ...Object.fromEntries(Object.entries(P).map(([k, v]) => [`p_${k}`, v])),
  haltA: halted('legA'), haltB: halted('legB'), resume: resumed(), revert: revertStart(), reverted: reverted(),
};

/** The model: a tiny hand-written state table, independent of the machine. */
function model(state: { s: string; approvals: Set<string>; sim: number; dry: boolean; phase: number; halt?: number; backup: boolean }, cmd: string): typeof state | null {
  const phases = ['p_backup', 'p_legA', 'p_legB', 'p_verify', 'p_enact'];
  const st = { ...state, approvals: new Set(state.approvals) };
  const canApprove = st.s === 'planned' || st.s === 'approved';
  if (cmd === 'approveAlice' || cmd === 'approveBob') {
    const who = cmd === 'approveAlice' ? 'alice' : 'bob';
    if (!canApprove || st.approvals.has(who)) return null;
    st.approvals.add(who);
    if (st.approvals.size >= 2) st.s = 'approved';
    return st;
  }
  if (cmd === 'approveErin' || cmd === 'liveClosed') return null;
  if (cmd === 'dryStart') return canApprove ? { ...st, s: 'dry', sim: 0 } : null;
  if (cmd.startsWith('sim')) return st.s === 'dry' && Number(cmd.slice(3)) === st.sim ? { ...st, sim: st.sim + 1 } : null;
  if (cmd === 'dryDone') return st.s === 'dry' && st.sim === 5 ? { ...st, s: st.approvals.size >= 2 ? 'approved' : 'planned', dry: true } : null;
  if (cmd === 'live') return st.s === 'approved' && st.dry ? { ...st, s: 'live', phase: 0 } : null;
  if (phases.includes(cmd)) {
    if (st.s !== 'live' || phases.indexOf(cmd) !== st.phase) return null;
    const next = { ...st, phase: st.phase + 1, backup: st.backup || cmd === 'p_backup' };
    return next.phase === 5 ? { ...next, s: 'completed' } : next;
  }
  if (cmd === 'haltA' || cmd === 'haltB') return st.s === 'live' && st.phase === (cmd === 'haltA' ? 1 : 2) ? { ...st, s: 'halted' } : null;
  if (cmd === 'resume') return st.s === 'halted' ? { ...st, s: 'live' } : null;
  if (cmd === 'revert') return ['completed', 'halted'].includes(st.s) && st.backup ? { ...st, s: 'reverting' } : null;
  if (cmd === 'reverted') return st.s === 'reverting' ? { ...st, s: 'reverted' } : null;
  return null;
}

describe('properties', () => {
  it('the decider accepts exactly the commands the model says are legal, and accepted histories replay clean', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...Object.keys(CANDIDATES)), { minLength: 1, maxLength: 40 }), (cmds) => {
        let state = evolve(initialState(), planned());
        let m: Parameters<typeof model>[0] = { s: 'planned', approvals: new Set(), sim: 0, dry: false, phase: 0, backup: false };
        const accepted: DomainEvent[] = [planned()];
        for (const cmd of cmds) {
          const expected = model(m, cmd);
          let events: DomainEvent[] | undefined;
          try {
            events = decide(CANDIDATES[cmd]!, state);
          } catch {
            events = undefined;
          }
          expect(Boolean(events), `${cmd} in ${stateName(state)}`).toBe(Boolean(expected));
          if (events && expected) {
            for (const e of events) state = evolve(state, e);
            accepted.push(...events);
            m = expected;
          }
        }
        const r = replay(stored(accepted));
        expect(r.violations).toEqual([]);
        expect(summary(r.state)).toEqual(summary(state));
        expect(summary(fold(stored(accepted)))).toEqual(summary(state));
      }),
      { numRuns: 300 },
    );
  });

  it('changing any one event of an accepted history makes replay report a violation', () => {
    const history = stored([...happy(), revertStart(), reverted()]);
    expect(replay(history).violations).toEqual([]);
    const mutations: ((h: typeof history, i: number) => typeof history)[] = [
      (h, i) => h.map((e, j) => (j === i ? { ...e, data: { ...(e.data as object), planHash: '0'.repeat(64) } } : e)),
      (h, i) => h.map((e, j) => (j === i ? { ...e, type: e.type === 'LegAWritten' ? 'LegBRecorded' : 'LegAWritten' } : e)),
      // Swapping two adjacent events of different types (same-type neighbours such as two approvals commute).
      (h, i) => (i + 1 < h.length && h[i]!.type !== h[i + 1]!.type ? h.map((e, j) => (j === i ? { ...h[i + 1]!, version: e.version } : j === i + 1 ? { ...h[i]!, version: e.version } : e)) : h),
      // Closing a lock in recorded evidence.
      (h) => h.map((e) => (e.type === 'LiveRunStarted' ? { ...e, data: { ...(e.data as any), evidence: { ...(e.data as any).evidence, locks: { ...OPEN, env: false } } } } : e)),
    ];
    fc.assert(
      fc.property(fc.integer({ min: 1, max: history.length - 1 }), fc.integer({ min: 0, max: mutations.length - 1 }), (i, k) => {
        const changed = mutations[k]!(history, i);
        if (JSON.stringify(changed) === JSON.stringify(history) || changed.length < history.length) return;
        expect(replay(changed).violations.length).toBeGreaterThan(0);
      }),
      { numRuns: 200 },
    );
  });

  it('names the rule broken: closed locks, skipped phase, simulator in a live run, revert without backup', () => {
    const base = [planned(), approval('alice'), approval('bob', 2), ...dryRun()];
    const rules = (events: DomainEvent[]) => replay(stored(events)).violations.map((v) => v.rule);
    expect(rules([...base, liveStart('l1', 10, { ...OPEN, killSwitch: false })])).toContain('locks-evidence');
    expect(rules([...base, liveStart(), P.backup!, P.legB!])).toContain('phase-order');
    expect(rules([...base, liveStart(), { ...P.backup!, data: { ...P.backup!.data, executor: 'simulator' } } as never])).toContain('executor-mode');
    expect(rules([...base, revertStart()])).toContain('revert-without-backup');
  });

  it('folds the same events to deep-equal states whatever the wall clock', () => {
    const h = stored([...happy(), revertStart(), reverted()]);
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2001-01-01'));
    const a = fold(h);
    vi.setSystemTime(new Date('2099-12-31'));
    const b = fold(h);
    vi.useRealTimers();
    expect(b.snapshot.context).toEqual(a.snapshot.context);
    expect(b.snapshot.value).toEqual(a.snapshot.value);
  });
});

describe('machine graph', () => {
  it('reaches every reachable state by a generated path, and each path replays through the decider', () => {
    const events = [planned(), approval('alice'), approval('bob', 2), ...dryRun(), liveStart(), ...Object.values(P), halted('legA'), resumed(), revertStart(), reverted(),
      { type: 'CutAborted', data: { planHash: planned().data.planHash as string, reason: 'x', at: planned().data.at as string } } as DomainEvent,
      { type: 'PhaseFailed', data: { runId: 'l1', planHash: planned().data.planHash as string, executor: 'postgres-table', phase: 'legA', error: { code: 'X', message: 'y' }, at: planned().data.at as string } } as DomainEvent,
      { type: 'VerifyFailed', data: { runId: 'l1', planHash: planned().data.planHash as string, executor: 'postgres-table', expectedHash: 'c'.repeat(64), actualHash: 'd'.repeat(64), mismatches: [], at: planned().data.at as string } } as DomainEvent,
      { type: 'RevertFailed', data: { runId: 'rv1', planHash: planned().data.planHash as string, executor: 'postgres-table', error: { code: 'X', message: 'y' }, at: planned().data.at as string } } as DomainEvent,
    ];
    const paths = getShortestPaths(cutMachine, { events: events as never });
    const reached = new Set(paths.map((p) => stateName({ snapshot: p.state as never, version: 0 })));
    const graph = machineGraph(cutMachine);
    const leaves = graph.nodes.filter((n) => !n.compound && !n.history).map((n) => n.id);
    for (const leaf of leaves) expect(reached, `state ${leaf}`).toContain(leaf);
    for (const p of paths) {
      const evs = p.steps.map((s) => s.event as DomainEvent).filter((e) => (e.type as string) !== 'xstate.init');
      const r = replay(stored(evs));
      expect(r.violations, p.steps.map((s) => s.event.type).join(' → ')).toEqual([]);
    }
  });

  it('exports Mermaid and DOT from the definition, with the path highlighted', () => {
    const mermaid = toMermaid(cutMachine);
    expect(mermaid).toContain('live_backingUp --> live_legA: BackupTaken');
    const dot = toDot(cutMachine, { highlight: { states: ['planned'], transitions: [{ from: 'planned', event: 'ApprovalGranted', to: 'approved' }] } });
    expect(dot).toMatch(/"planned" \[[^\]]*class="path"/);
    expect(dot).toMatch(/"planned" -> "approved" \[label="ApprovalGranted", class="path"/);
  });
});

describe('schema versions', () => {
  it('upcasts a v1 ApprovalGranted (one role) to v2 (roles) and replays it', () => {
    const v2 = approval('alice');
    const { roles, ...rest } = v2.data as { roles: string[] } & Record<string, unknown>;
    const v1 = { type: 'ApprovalGranted', data: { ...rest, role: roles[0] }, metadata: { schemaVersion: 1 } };
    const parsed = parseStored(v1);
    expect(parsed.success && parsed.data.data).toEqual(v2.data);
    const history = [...stored([planned()]), { ...v1, version: 2 }];
    expect(replay(history).violations).toEqual([]);
    expect(replay([...stored([planned()]), { type: 'ApprovalGranted', data: { ...rest, role: 'dba' }, metadata: { schemaVersion: 2 }, version: 2 }]).violations[0]?.rule).toBe('schema');
  });
});
