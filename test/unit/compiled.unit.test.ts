/**
 * The compiled transition table (machines/compiled.ts) against XState itself: on random event
 * sequences, step by step, the same acceptance (`snapshot.can`), state value, context and history
 * as XState's pure `transition`; the materialised snapshot is a real one; and machines with
 * features the table does not model are refused at compile time.
 */
import fc from 'fast-check';
import { assign, getInitialSnapshot, setup, transition } from 'xstate';
import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../events/index.js';
import { compileMachine } from '../../machines/compiled.js';
import { cutMachine, type CutContext } from '../../machines/cut.js';
import {
  approval,
  dryRun,
  halted,
  HASH,
  liveStart,
  OPEN,
  phaseEvents,
  planned,
  resumed,
  reverted,
  revertStart,
  at,
} from '../support/cut-events.js';

const compiled = compileMachine<typeof cutMachine, CutContext, DomainEvent>(cutMachine);
const P = phaseEvents();
const live = { runId: 'l1', planHash: HASH, executor: 'postgres-table' as const };

/** Legal and illegal events alike: the order is random, so most are refused somewhere. */
const EVENTS: DomainEvent[] = [
  planned(),
  planned({ requiredApprovals: 1 }),
  planned({ requireDryRun: false, roles: ['sre'] }),
  approval('alice'),
  approval('bob', 2),
  approval('erin'),
  approval('alice', 5),
  approval('bob', 2, { roles: ['sre'] }),
  approval('mallory', 3, { forgeWith: 'alice' }),
  approval('bob', 4, { planHash: 'f'.repeat(64) }),
  ...dryRun(),
  ...dryRun('d2', 4, false),
  liveStart(),
  liveStart('l1', 10, { ...OPEN, env: false }),
  liveStart('l1', 99_999),
  ...Object.values(P),
  halted('legA'),
  halted('legB'),
  resumed(),
  resumed('l1', { ...OPEN, killSwitch: false }),
  revertStart(),
  reverted(),
  revertStart('rv2', { ...OPEN, config: false }),
  { type: 'CutAborted', data: { planHash: HASH, reason: 'x', at: at(1) } },
  { type: 'PhaseFailed', data: { ...live, phase: 'legA', error: { code: 'X', message: 'y' }, at: at(12) } },
  { type: 'PhaseFailed', data: { ...live, phase: 'legB', error: { code: 'X', message: 'y' }, at: at(12) } },
  {
    type: 'VerifyFailed',
    data: { ...live, expectedHash: 'c'.repeat(64), actualHash: 'd'.repeat(64), mismatches: [], at: at(13) },
  },
  {
    type: 'RevertFailed',
    data: { runId: 'rv1', planHash: HASH, executor: 'postgres-table', error: { code: 'X', message: 'y' }, at: at(21) },
  },
];

const historyIds = (h: Record<string, { id: string }[]> | undefined) =>
  Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k, v.map((n) => n.id)]));

describe('compiled transition table', () => {
  // machines/compiled.ts reads XState's state-node internals (xstate is pinned exactly in
  // package.json for that reason). When an upgrade changes their shape, this says which one.
  it('finds the XState internals it reads in the shape it was written against', () => {
    const nodes: any[] = [];
    const walk = (n: any) => {
      nodes.push(n);
      for (const c of Object.values(n.states ?? {})) walk(c);
    };
    walk(cutMachine.root);
    const shape: [string, (n: any) => boolean][] = [
      ['node.id is a string', (n) => typeof n.id === 'string'],
      [
        'node.type is one of atomic/compound/parallel/final/history',
        (n) => ['atomic', 'compound', 'parallel', 'final', 'history'].includes(n.type),
      ],
      ['node.path is a string[]', (n) => Array.isArray(n.path) && n.path.every((p: unknown) => typeof p === 'string')],
      ['node.states is an object', (n) => typeof n.states === 'object' && n.states !== null],
      ['node.entry/exit/invoke/after are arrays', (n) => [n.entry, n.exit, n.invoke, n.after].every(Array.isArray)],
      ['node.always is undefined or an array', (n) => n.always === undefined || Array.isArray(n.always)],
      [
        'node.transitions is a Map of arrays',
        (n) => n.transitions instanceof Map && [...n.transitions.values()].every(Array.isArray),
      ],
      [
        'a transition has target (array or undefined), actions (array), reenter',
        (n) =>
          [...n.transitions.values()]
            .flat()
            .every(
              (t: any) =>
                (t.target === undefined || Array.isArray(t.target)) && Array.isArray(t.actions) && 'reenter' in t,
            ),
      ],
      [
        'a compound node has initial.target[0] and initial.actions',
        (n) =>
          n.type !== 'compound' ||
          (Array.isArray(n.initial?.target) && n.initial.target[0]?.parent === n && Array.isArray(n.initial.actions)),
      ],
      [
        'a history node has history and config',
        (n) => n.type !== 'history' || ([false, 'shallow', 'deep'].includes(n.history) && typeof n.config === 'object'),
      ],
      ['a child points to its parent', (n) => Object.values(n.states ?? {}).every((c: any) => c.parent === n)],
    ];
    const broken = shape.filter(([, ok]) => !nodes.every(ok)).map(([what]) => what);
    expect(broken, `XState internals changed shape: ${broken.join('; ')}`).toEqual([]);
    expect(
      nodes.some((n) => n.type === 'history'),
      'the cut machine has a history node',
    ).toBe(true);
    const impl = cutMachine.implementations as any;
    expect(typeof impl.guards, 'machine.implementations.guards').toBe('object');
    const assigns = Object.values(impl.actions ?? {}) as any[];
    expect(assigns.length).toBeGreaterThan(0);
    for (const a of assigns) {
      expect(a.type, 'an assign action object has type xstate.assign').toBe('xstate.assign');
      expect(typeof a.assignment, 'an assign action object carries its assignment').not.toBe('undefined');
    }
    const snap = getInitialSnapshot(cutMachine) as any;
    expect(
      Array.isArray(snap._nodes) && snap._nodes.includes(cutMachine.root),
      'snapshot._nodes lists the active nodes',
    ).toBe(true);
    expect(typeof snap.historyValue, 'snapshot.historyValue').toBe('object');
    expect(typeof cutMachine.resolveState, 'machine.resolveState').toBe('function');
  });

  it('runs on the exact xstate version it was checked against', async () => {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const installed = JSON.parse(
      readFileSync(new URL('../../node_modules/xstate/package.json', import.meta.url), 'utf8'),
    );
    expect(pkg.dependencies.xstate, 'xstate is pinned to an exact version').toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed.version).toBe(pkg.dependencies.xstate);
  });

  it('agrees with XState step by step on random sequences (acceptance, value, context, history)', () => {
    // Each step is either any event (mostly refused) or, to reach deep states, the k-th event XState accepts now.
    const seq = fc.array(fc.tuple(fc.nat({ max: EVENTS.length - 1 }), fc.boolean()), {
      minLength: 20,
      maxLength: 80,
      size: 'max',
    });
    const visited = new Set<string>();
    fc.assert(
      fc.property(fc.nat({ max: 2 }), seq, (first, picks) => {
        let xs = getInitialSnapshot(cutMachine);
        let cs = compiled.initial();
        const pick = (i: number, legal: boolean) => {
          // (CutAborted ends a history, so the legal pick takes it only now and then.)
          const accepted = legal ? EVENTS.filter((e) => xs.can(e) && (e.type !== 'CutAborted' || i % 9 === 0)) : [];
          return accepted.length ? accepted[i % accepted.length]! : EVENTS[i]!;
        };
        for (const [i, legal] of [[first, false] as const, ...picks]) {
          const ev = pick(i, legal);
          const can = xs.can(ev);
          const next = compiled.transition(cs, ev);
          expect(next !== undefined, `${ev.type} in ${JSON.stringify(xs.value)}`).toBe(can);
          if (!can || !next) continue;
          [xs] = transition(cutMachine, xs, ev);
          cs = next;
          expect(compiled.value(cs)).toEqual(xs.value);
          expect(cs.context).toEqual(xs.context);
          expect(historyIds(cs.history)).toEqual(historyIds(xs.historyValue as never));
          expect(compiled.snapshot(cs).status).toBe(xs.status);
          visited.add(compiled.path(cs));
        }
      }),
      { numRuns: 400 },
    );
    // Every atomic state was reached (so history, failures and reverts were compared too).
    for (const leaf of [
      'planned',
      'approved',
      'dryRun',
      'live.backingUp',
      'live.legA',
      'live.legB',
      'live.verifying',
      'live.enacting',
      'halted',
      'completed',
      'failed',
      'verifyFailed',
      'reverting',
      'revertFailed',
      'reverted',
      'aborted',
    ]) {
      expect(visited, leaf).toContain(leaf);
    }
  });

  it('covers halt and resume through the history state, and the materialised snapshot is a real one', () => {
    const evs = [
      planned(),
      approval('alice'),
      approval('bob', 2),
      ...dryRun(),
      liveStart(),
      P.backup!,
      P.legA!,
      halted('legB'),
      resumed(),
      P.legB!,
    ];
    let xs = getInitialSnapshot(cutMachine);
    let cs = compiled.initial();
    for (const ev of evs) {
      [xs] = transition(cutMachine, xs, ev);
      cs = compiled.transition(cs, ev)!;
      expect(cs).toBeDefined();
    }
    expect(compiled.path(cs)).toBe('live.verifying');
    const snap = compiled.snapshot(cs);
    expect(snap.value).toEqual(xs.value);
    expect(snap.matches('live')).toBe(true);
    expect(snap.can(P.verify!)).toBe(true);
    const [after] = transition(cutMachine, snap, P.verify!);
    expect(after.value).toEqual({ live: 'enacting' });
    expect(compiled.fromSnapshot(after).leaf.id).toBe('cut.live.enacting');
  });

  it('refuses machines with features it does not model', () => {
    const base = setup({
      types: { context: {} as { n: number }, events: {} as { type: 'go' } },
      actions: { log: () => undefined, inc: assign({ n: ({ context }) => context.n + 1 }) },
    });
    expect(() =>
      compileMachine(base.createMachine({ context: { n: 0 }, initial: 'a', states: { a: { entry: 'inc' } } })),
    ).toThrow(/entry\/exit/);
    expect(() =>
      compileMachine(
        base.createMachine({ context: { n: 0 }, initial: 'a', states: { a: { on: { go: { actions: 'log' } } } } }),
      ),
    ).toThrow(/only assign/);
    expect(() =>
      compileMachine(base.createMachine({ context: { n: 0 }, type: 'parallel', states: { a: {}, b: {} } })),
    ).toThrow(/parallel/);
    expect(() =>
      compileMachine(
        base.createMachine({ context: { n: 0 }, initial: 'a', states: { a: { always: { target: 'b' } }, b: {} } }),
      ),
    ).toThrow(/always/);
    expect(() =>
      compileMachine(
        base.createMachine({ context: { n: 0 }, initial: 'a', states: { a: { on: { '*': { actions: 'inc' } } } } }),
      ),
    ).toThrow(/wildcard/);
    const ok = compileMachine(
      base.createMachine({
        context: { n: 0 },
        initial: 'a',
        states: { a: { on: { go: { target: 'b', actions: 'inc' } } }, b: { type: 'final' } },
      }),
    );
    const s = ok.transition(ok.initial(), { type: 'go' })!;
    expect([ok.path(s), s.context.n, ok.snapshot(s).status]).toEqual(['b', 1, 'done']);
  });
});
