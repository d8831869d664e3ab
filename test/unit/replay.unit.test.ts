/**
 * Properties of the pure core: histories replay deterministically; invariants hold; changing any one
 * event makes replay report a violation. Plus graph coverage, the upcaster, and diagrams generated
 * from the machine. (The decider against an independent model on random command sequences, with
 * every accepted history replayed, is in decider.unit.test.ts.)
 */
import fc from 'fast-check';
import { getShortestPaths } from '@xstate/graph';
import { describe, expect, it, vi } from 'vitest';
import { parseStored, toStorable, type DomainEvent } from '../../events/index.js';
import { cutMachine, MACHINE_VERSION } from '../../machines/cut.js';
import { toDot, toMermaid, machineGraph } from '../../machines/diagram.js';
import { fold, replay, stateName } from '../../src/domain/index.js';
import {
  approval,
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

const stored = (events: DomainEvent[]) =>
  events.map((e, i) => ({ ...toStorable(e, { machineVersion: MACHINE_VERSION }), version: i + 1 }));
const P = phaseEvents();

describe('properties', () => {
  it('changing any one event of an accepted history makes replay report a violation', () => {
    const history = stored([...happy(), revertStart(), reverted()]);
    expect(replay(history).violations).toEqual([]);
    const mutations: ((h: typeof history, i: number) => typeof history)[] = [
      (h, i) => h.map((e, j) => (j === i ? { ...e, data: { ...(e.data as object), planHash: '0'.repeat(64) } } : e)),
      (h, i) =>
        h.map((e, j) => (j === i ? { ...e, type: e.type === 'LegAWritten' ? 'LegBRecorded' : 'LegAWritten' } : e)),
      // Swapping two adjacent events of different types (same-type neighbours such as two approvals commute).
      (h, i) =>
        i + 1 < h.length && h[i]!.type !== h[i + 1]!.type
          ? h.map((e, j) =>
              j === i ? { ...h[i + 1]!, version: e.version } : j === i + 1 ? { ...h[i]!, version: e.version } : e,
            )
          : h,
      // Closing a lock in recorded evidence.
      (h) =>
        h.map((e) =>
          e.type === 'LiveRunStarted'
            ? {
                ...e,
                data: { ...(e.data as any), evidence: { ...(e.data as any).evidence, locks: { ...OPEN, env: false } } },
              }
            : e,
        ),
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: history.length - 1 }),
        fc.integer({ min: 0, max: mutations.length - 1 }),
        (i, k) => {
          const changed = mutations[k]!(history, i);
          if (JSON.stringify(changed) === JSON.stringify(history) || changed.length < history.length) return;
          expect(replay(changed).violations.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('names the rule broken: closed locks, skipped phase, simulator in a live run, revert without backup', () => {
    const base = [planned(), approval('alice'), approval('bob', 2), ...dryRun()];
    const rules = (events: DomainEvent[]) => replay(stored(events)).violations.map((v) => v.rule);
    expect(rules([...base, liveStart('l1', 10, { ...OPEN, killSwitch: false })])).toContain('locks-evidence');
    expect(rules([...base, liveStart(), P.backup!, P.legB!])).toContain('phase-order');
    expect(
      rules([...base, liveStart(), { ...P.backup!, data: { ...P.backup!.data, executor: 'simulator' } } as never]),
    ).toContain('executor-mode');
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
    const events = [
      planned(),
      approval('alice'),
      approval('bob', 2),
      ...dryRun(),
      liveStart(),
      ...Object.values(P),
      halted('legA'),
      resumed(),
      revertStart(),
      reverted(),
      {
        type: 'CutAborted',
        data: { planHash: planned().data.planHash as string, reason: 'x', at: planned().data.at as string },
      } as DomainEvent,
      {
        type: 'PhaseFailed',
        data: {
          runId: 'l1',
          planHash: planned().data.planHash as string,
          executor: 'postgres-table',
          phase: 'legA',
          error: { code: 'X', message: 'y' },
          at: planned().data.at as string,
        },
      } as DomainEvent,
      {
        type: 'VerifyFailed',
        data: {
          runId: 'l1',
          planHash: planned().data.planHash as string,
          executor: 'postgres-table',
          expectedHash: 'c'.repeat(64),
          actualHash: 'd'.repeat(64),
          mismatches: [],
          at: planned().data.at as string,
        },
      } as DomainEvent,
      {
        type: 'RevertFailed',
        data: {
          runId: 'rv1',
          planHash: planned().data.planHash as string,
          executor: 'postgres-table',
          error: { code: 'X', message: 'y' },
          at: planned().data.at as string,
        },
      } as DomainEvent,
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
    const dot = toDot(cutMachine, {
      highlight: { states: ['planned'], transitions: [{ from: 'planned', event: 'ApprovalGranted', to: 'approved' }] },
    });
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
    expect(
      replay([
        ...stored([planned()]),
        { type: 'ApprovalGranted', data: { ...rest, role: 'dba' }, metadata: { schemaVersion: 2 }, version: 2 },
      ]).violations[0]?.rule,
    ).toBe('schema');
  });
});
