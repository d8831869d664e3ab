/**
 * More of the compiled transition table's edges (machines/compiled.ts), checked against XState:
 * a re-entering transition to a child records its parent's history; a transition into an
 * ancestor's history from inside it; and the remaining features refused at compile time.
 */
import { assign, getInitialSnapshot, setup, transition, type AnyStateMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { compileMachine } from '../../machines/compiled.js';

type Ev = { type: 'go' | 'in' | 'out' | 'next' };
type Ctx = { n: number };
const base = setup({
  types: { context: {} as Ctx, events: {} as Ev },
  actions: { inc: assign({ n: ({ context }) => context.n + 1 }) },
});
const ids = (h: Record<string, { id: string }[]> | undefined) =>
  Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k, v.map((n) => n.id)]));

/** Folds `events` through XState and the compiled table; every event must be accepted by both. Returns each step's path and history. */
function agree(machine: AnyStateMachine, events: Ev[]) {
  const c = compileMachine<AnyStateMachine, Ctx, Ev>(machine);
  let xs = getInitialSnapshot(machine);
  let cs = c.initial();
  const steps: [string, Record<string, string[]>][] = [];
  for (const [i, e] of events.entries()) {
    expect(xs.can(e), `XState, step ${i}`).toBe(true);
    const next = c.transition(cs, e);
    expect(next, `compiled, step ${i}`).toBeDefined();
    [xs] = transition(machine, xs, e);
    cs = next!;
    expect(c.value(cs), `step ${i}`).toEqual(xs.value);
    expect(cs.context, `step ${i}`).toEqual(xs.context);
    expect(ids(cs.history), `step ${i}`).toEqual(ids(xs.historyValue as never));
    steps.push([c.path(cs), ids(cs.history)]);
  }
  return steps;
}

describe('history and re-entry, against XState', () => {
  it('a re-entering transition from a parent to its child exits the parent too, recording its history', () => {
    const m = base.createMachine({
      context: { n: 0 },
      initial: 'p',
      states: {
        p: {
          initial: 'x',
          on: { go: { target: '.y', reenter: true, actions: 'inc' }, in: { target: '.y' } },
          states: { x: { on: { next: 'y' } }, y: { on: { next: 'x' } }, h: { type: 'history' } },
        },
      },
    });
    const steps = agree(m, [E('in'), E('next'), E('go'), E('next'), E('go')]);
    expect(steps.map(([p]) => p)).toEqual(['p.y', 'p.x', 'p.y', 'p.x', 'p.y']);
    expect(steps[1]![1]).toEqual({});
    expect(steps[2]![1]).toEqual({ '(machine).p.h': ['(machine).p.x'] });
    expect(steps[4]![1]).toEqual({ '(machine).p.h': ['(machine).p.x'] });
  });

  it('a transition from inside a parent into its own deep history', () => {
    const m = base.createMachine({
      context: { n: 0 },
      initial: 'a',
      states: {
        a: { on: { go: 'p', in: 'p.h' } },
        p: {
          initial: 'q',
          on: { out: 'a' },
          states: {
            q: {
              initial: 'q1',
              on: { in: '#hist' },
              states: { q1: { on: { next: 'q2' } }, q2: { on: { next: '#r' } }, qh: { type: 'history' } },
            },
            r: { id: 'r', on: { in: '#hist', next: 'q' } },
            h: { id: 'hist', type: 'history', history: 'deep' },
          },
        },
      },
    });
    const steps = agree(m, [
      E('go'),
      E('in'),
      E('next'),
      E('in'),
      E('out'),
      E('in'),
      E('in'),
      E('next'),
      E('in'),
      E('out'),
      E('in'),
    ]);
    expect(steps.map(([p]) => p)).toEqual([
      'p.q.q1',
      'p.q.q1',
      'p.q.q2',
      'p.q.q1',
      'a',
      'p.q.q1',
      'p.q.q1',
      'p.q.q2',
      'p.q.q1',
      'a',
      'p.q.q1',
    ]);
    // p's history holding r while q is active: into it from q exits q (recording q's own history).
    const later = agree(m, [E('go'), E('next'), E('next'), E('out'), E('go'), E('in')]);
    expect(later.map(([p]) => p)).toEqual(['p.q.q1', 'p.q.q2', 'p.r', 'a', 'p.q.q1', 'p.r']);
    expect(later[4]![1]).toEqual({ hist: ['r'], '(machine).p.q.qh': ['(machine).p.q.q2'] });
    expect(later[5]![1]).toEqual({ hist: ['r'], '(machine).p.q.qh': ['(machine).p.q.q1'] });
  });

  it('a re-entering transition between siblings exits neither their parent nor records its history', () => {
    const m = base.createMachine({
      context: { n: 0 },
      initial: 'p',
      states: {
        p: {
          initial: 'x',
          states: {
            x: { on: { go: { target: 'y', reenter: true } } },
            y: { on: { go: { target: 'x', reenter: true, actions: 'inc' } } },
            h: { type: 'history' },
          },
        },
      },
    });
    const steps = agree(m, [E('go'), E('go')]);
    expect(steps).toEqual([
      ['p.y', {}],
      ['p.x', {}],
    ]);
  });
});
const E = (type: Ev['type']): Ev => ({ type });

describe('snapshots in and out', () => {
  const m = base.createMachine({
    context: { n: 0 },
    initial: 'a',
    states: {
      a: { on: { go: 'p', in: 'p.h' } },
      p: { initial: 'x', on: { out: 'a' }, states: { x: { on: { next: 'y' } }, y: {}, h: { type: 'history' } } },
    },
  });

  it('a state read from an XState snapshot keeps its recorded history, and resumes through it', () => {
    const c = compileMachine<AnyStateMachine, Ctx, Ev>(m);
    let xs = getInitialSnapshot(m);
    for (const e of [E('go'), E('next'), E('out')]) [xs] = transition(m, xs, e);
    const cs = c.fromSnapshot(xs);
    expect([c.path(cs), ids(cs.history)]).toEqual(['a', { '(machine).p.h': ['(machine).p.y'] }]);
    expect(c.path(c.transition(cs, E('in'))!)).toBe('p.y');
  });

  it('refuses (never crashes on) a state of another compiled machine', () => {
    const c = compileMachine<AnyStateMachine, Ctx, Ev>(m);
    const other = compileMachine<AnyStateMachine, Ctx, Ev>(
      base.createMachine({ context: { n: 0 }, initial: 'a', states: { a: { on: { go: 'b' } }, b: {} } }),
    );
    expect(c.transition(other.initial(), E('go'))).toBeUndefined();
  });
});

describe('features the table does not model, refused at compile time', () => {
  const refuse = (config: Record<string, unknown>, message: string) => {
    expect(
      () => compileMachine(base.createMachine({ context: { n: 0 }, ...config } as never) as unknown as AnyStateMachine),
      message,
    ).toThrow(`compileMachine: ${message} is not supported by the compiled transition table`);
  };

  it('names each one with its state', () => {
    refuse({ type: 'parallel', states: { a: {}, b: {} } }, "a parallel state in state '(machine)'");
    refuse(
      { initial: 'a', states: { a: { always: 'b' }, b: {} } },
      "an eventless (always) transition in state '(machine).a'",
    );
    refuse({ initial: { target: 'a', actions: 'inc' }, states: { a: {} } }, "initial actions in state '(machine)'");
    refuse(
      { initial: 'p', states: { p: { initial: { target: 'a', actions: 'inc' }, states: { a: {} } } } },
      "initial actions in state '(machine).p'",
    );
    refuse(
      {
        initial: 'a',
        states: {
          a: { on: { go: { target: ['#p1', '#p2'] } } },
          p: { initial: 'x', states: { x: { id: 'p1' }, y: { id: 'p2' } } },
        },
      },
      "a transition with several targets in state '(machine).a'",
    );
    refuse(
      { initial: 'a', onDone: { actions: 'inc' }, states: { a: { on: { go: 'f' } }, f: { type: 'final' } } },
      "a done-state transition in state '(machine)'",
    );
    refuse(
      { initial: 'a', on: { go: { actions: 'inc' }, 'xstate.done.state.x': { actions: 'inc' } }, states: { a: {} } },
      "a done-state transition in state '(machine)'",
    );
  });

  it('compiles what it models: a root final state, a root transition, one target', () => {
    const c = compileMachine<AnyStateMachine, Ctx, Ev>(
      base.createMachine({
        context: { n: 0 },
        initial: 'a',
        on: { go: { actions: 'inc' } },
        states: { a: { on: { next: 'f' } }, f: { type: 'final' } },
      }),
    );
    const s = c.transition(c.transition(c.initial(), E('go'))!, E('next'))!;
    expect([c.path(s), s.context.n, c.snapshot(s).status]).toEqual(['f', 1, 'done']);
  });
});
