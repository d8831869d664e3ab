/**
 * A transition table compiled FROM an XState machine definition, for the replay hot path. XState's
 * pure `transition` builds an inert actor, a microstep and a new snapshot per event (and `can`
 * repeats the guard evaluation); folding a million events that way is dominated by that machinery.
 *
 * The compiler walks the machine's own state nodes and transition definitions once and, for every
 * (atomic state, event type), lists the candidate transitions in XState's priority order (the
 * state's own first, then each ancestor's, in document order), with the machine's guard and
 * `assign` implementations, the exit set and the history it records, and the atomic state entered.
 * Nothing is written twice: change the machine and the table changes with it. Features the
 * compiled path does not model (parallel states, entry/exit actions, actions other than `assign`,
 * eventless or delayed transitions, invoked actors, wildcards, nested final states, guard
 * combinators) make `compileMachine` throw, so such a machine cannot silently diverge; a unit test
 * also checks it step by step against XState's `transition` on random histories.
 *
 * Semantics kept from XState v5: a guard sees `{ context, event }`; the first enabled candidate
 * wins; `assign` actions run in order, each over the context the previous one produced
 * (`Object.assign({}, context, partial)`); an event is accepted (`can`) when an enabled transition
 * has a target or actions; shallow/deep history is recorded when its parent is exited and
 * restored (or defaulted) on entry. Snapshots are materialised on demand with `resolveState`.
 *
 * It reads XState's state-node internals (`transitions`, `initial`, `_nodes`, `historyValue`, the
 * assign action's `assignment`), which are not a public contract: xstate is pinned to an exact
 * version in package.json, and test/unit/compiled.unit.test.ts fails naming the internal whose
 * shape changed, besides comparing both engines step by step.
 */
import type { AnyStateMachine, AnyStateNode, EventObject, MachineContext, SnapshotFrom, StateValue } from 'xstate';

/** The minimal state of a fold: the active atomic state node, the context and the history. */
export interface CompiledState<C> {
  readonly leaf: AnyStateNode;
  readonly context: C;
  /** History node id → recorded state nodes (XState's `historyValue`); shared until changed. */
  readonly history: Readonly<Record<string, AnyStateNode[]>>;
}

type GuardFn<C, E> = (args: { context: C; event: E }, params: undefined) => boolean;
type Assignment<C, E> = ((args: { context: C; event: E }, params: undefined) => Partial<C>) | Record<string, unknown>;

interface Candidate<C, E> {
  guard: GuardFn<C, E> | undefined;
  assigns: Assignment<C, E>[];
  /** False for a transition with neither target nor actions (XState's `can` rejects those). */
  counts: boolean;
  /** Static outcome (no history target), or computed from the current history at run time. */
  next: ((history: Readonly<Record<string, AnyStateNode[]>>) => Step) | Step | undefined;
}

interface Step {
  leaf: AnyStateNode;
  /** History entries to record (history node id → nodes), or undefined when none changes. */
  record: Record<string, AnyStateNode[]> | undefined;
}

export interface CompiledMachine<TMachine extends AnyStateMachine, C extends MachineContext, E extends EventObject> {
  readonly machine: TMachine;
  initial(): CompiledState<C>;
  /** The next state, or undefined when the machine refuses the event (`snapshot.can(event)` false). */
  transition(state: CompiledState<C>, event: E): CompiledState<C> | undefined;
  /** The state value, as XState reports it (`'planned'`, `{ live: 'legA' }`). Shared, frozen. */
  value(state: CompiledState<C>): StateValue;
  /** The state as a dotted path (`live.legA`). */
  path(state: CompiledState<C>): string;
  /** A real XState snapshot of the state (built on demand). */
  snapshot(state: CompiledState<C>): SnapshotFrom<TMachine>;
  /** The compiled state of an XState snapshot of the same machine. */
  fromSnapshot(snapshot: SnapshotFrom<TMachine>): CompiledState<C>;
}

const unsupported = (what: string, node: AnyStateNode): never => {
  throw new Error(`compileMachine: ${what} in state '${node.id}' is not supported by the compiled transition table`);
};

const ancestorsOf = (node: AnyStateNode): AnyStateNode[] => {
  const out: AnyStateNode[] = [];
  for (let m = node.parent; m; m = m.parent) out.push(m);
  return out;
};

/** XState's `isDescendant`: `child` is a proper descendant of `parent`. */
const isDescendant = (child: AnyStateNode, parent: AnyStateNode): boolean => {
  let m = child;
  while (m.parent && m.parent !== parent) m = m.parent;
  return m.parent === parent;
};

/**
 * Compiles `machine` into a transition table that folds exactly as XState's `transition` does (see
 * the module header); throws naming the state when the machine uses a feature the table does not model.
 */
export function compileMachine<
  TMachine extends AnyStateMachine,
  C extends MachineContext = SnapshotFrom<TMachine>['context'],
  E extends EventObject = Parameters<TMachine['transition']>[1],
>(machine: TMachine): CompiledMachine<TMachine, C, E> {
  const root = machine.root as AnyStateNode;
  const all = nodesOf(root);
  refuseUnmodelled(all, root);
  const leaves = all.filter((n) => n.type === 'atomic' || n.type === 'final');
  const table = transitionTable<C, E>(machine, root, leaves);
  const { values, paths } = stateLabels(leaves);

  const initialSnapshot = () => {
    const snap = (machine as AnyStateMachine).getInitialSnapshot({} as never) as SnapshotFrom<TMachine>;
    return fromSnapshot(snap);
  };
  const fromSnapshot = (snap: SnapshotFrom<TMachine>): CompiledState<C> => {
    const nodes = (snap as unknown as { _nodes: AnyStateNode[] })._nodes;
    const leaf = nodes.find((n) => table.has(n));
    if (!leaf) throw new Error('compileMachine: the snapshot has no atomic state of this machine');
    return {
      leaf,
      context: (snap as unknown as { context: C }).context,
      history: (snap as unknown as { historyValue?: Record<string, AnyStateNode[]> }).historyValue ?? {},
    };
  };
  let initial: CompiledState<C> | undefined;

  return {
    machine,
    initial() {
      // The initial context comes from XState itself (it may be a function of input).
      initial ??= initialSnapshot();
      return initial;
    },
    transition: (state, event) => fire(table, state, event),
    value: (state) => values.get(state.leaf)!,
    path: (state) => paths.get(state.leaf)!,
    snapshot: (state) =>
      (machine as AnyStateMachine).resolveState({
        value: values.get(state.leaf)!,
        context: state.context,
        historyValue: state.history,
      } as never) as SnapshotFrom<TMachine>,
    fromSnapshot,
  };
}

/** Every state node of the machine, the root first, in document order. */
function nodesOf(root: AnyStateNode): AnyStateNode[] {
  const all: AnyStateNode[] = [];
  const walk = (n: AnyStateNode) => {
    all.push(n);
    for (const c of Object.values(n.states ?? {}) as AnyStateNode[]) walk(c);
  };
  walk(root);
  return all;
}

/** Refuses what the table does not model (throws naming the feature and the state). */
function refuseUnmodelled(all: AnyStateNode[], root: AnyStateNode): void {
  for (const n of all) {
    if (n.type === 'parallel') unsupported('a parallel state', n);
    if (n.entry.length || n.exit.length) unsupported('entry/exit actions', n);
    if (n.invoke.length) unsupported('an invoked actor', n);
    if (n.always?.length) unsupported('an eventless (always) transition', n);
    if (n.after.length) unsupported('a delayed (after) transition', n);
    if (n.type === 'final' && n.parent !== root) unsupported('a nested final state', n);
    if (n.type === 'compound' && n.initial.actions.length) unsupported('initial actions', n);
    for (const [eventType, ts] of n.transitions as Map<string, any[]>) {
      if (eventType.includes('*')) unsupported(`the wildcard event descriptor '${eventType}'`, n);
      for (const t of ts) if ((t.target?.length ?? 0) > 1) unsupported('a transition with several targets', n);
    }
  }
  if (root.transitions.size && [...root.transitions.keys()].some((k) => k.startsWith('xstate.done.')))
    unsupported('a done-state transition', root);
}

/** The machine's guard and `assign` implementations, resolved per transition (anything else refused). */
function implementationsOf<C, E>(machine: AnyStateMachine) {
  const guards = (machine.implementations.guards ?? {}) as Record<string, unknown>;
  const actions = (machine.implementations.actions ?? {}) as Record<string, unknown>;
  const guardOf = (g: unknown, n: AnyStateNode): GuardFn<C, E> | undefined => {
    if (g === undefined) return undefined;
    if (typeof g !== 'string') return unsupported('an inline or parameterised guard', n);
    const impl = guards[g];
    if (typeof impl !== 'function' || 'check' in impl)
      return unsupported(`the guard '${g}' (missing, or a combinator)`, n);
    return impl as GuardFn<C, E>;
  };
  const assignOf = (a: unknown, n: AnyStateNode): Assignment<C, E> => {
    const impl = (typeof a === 'string' ? actions[a] : a) as
      { type?: string; assignment?: Assignment<C, E> } | undefined;
    if (!impl || impl.type !== 'xstate.assign' || !impl.assignment)
      return unsupported(
        `the action '${typeof a === 'string' ? a : String((a as { type?: string })?.type)}' (only assign is modelled)`,
        n,
      );
    return impl.assignment;
  };
  return { guardOf, assignOf };
}

/** The table: atomic state → event type → candidates in priority order (own transitions, then each ancestor's). */
function transitionTable<C, E>(
  machine: AnyStateMachine,
  root: AnyStateNode,
  leaves: AnyStateNode[],
): Map<AnyStateNode, Map<string, Candidate<C, E>[]>> {
  const { guardOf, assignOf } = implementationsOf<C, E>(machine);
  const table = new Map<AnyStateNode, Map<string, Candidate<C, E>[]>>();
  for (const leaf of leaves) {
    const byEvent = new Map<string, Candidate<C, E>[]>();
    for (const node of [leaf, ...ancestorsOf(leaf)]) {
      for (const [eventType, ts] of node.transitions as Map<string, any[]>) {
        const list = byEvent.get(eventType) ?? [];
        for (const t of ts) {
          const target = t.target?.[0] as AnyStateNode | undefined;
          const assigns = (t.actions as unknown[]).map((a) => assignOf(a, node));
          const hasHistoryTarget = target?.type === 'history';
          list.push({
            guard: guardOf(t.guard, node),
            assigns,
            counts: target !== undefined || assigns.length > 0,
            next:
              target === undefined
                ? undefined
                : hasHistoryTarget
                  ? (h) => step(root, leaf, node, target, Boolean(t.reenter), h)
                  : step(root, leaf, node, target, Boolean(t.reenter), {}),
          });
        }
        byEvent.set(eventType, list);
      }
    }
    table.set(leaf, byEvent);
  }
  return table;
}

/** State values and paths per atomic state, as XState reports them. */
function stateLabels(leaves: AnyStateNode[]): {
  values: Map<AnyStateNode, StateValue>;
  paths: Map<AnyStateNode, string>;
} {
  const values = new Map<AnyStateNode, StateValue>();
  const paths = new Map<AnyStateNode, string>();
  for (const leaf of leaves) {
    const p = leaf.path as string[];
    let v: StateValue = p[p.length - 1]!;
    for (let i = p.length - 2; i >= 0; i--) v = Object.freeze({ [p[i]!]: v });
    values.set(leaf, v);
    paths.set(leaf, p.join('.'));
  }
  return { values, paths };
}

/** The next state: the first enabled candidate's assigns over the context, then its target (undefined: refused). */
function fire<C, E extends EventObject>(
  table: Map<AnyStateNode, Map<string, Candidate<C, E>[]>>,
  state: CompiledState<C>,
  event: E,
): CompiledState<C> | undefined {
  const candidates = table.get(state.leaf)?.get(event.type);
  if (!candidates) return undefined;
  for (const c of candidates) {
    if (c.guard && !c.guard({ context: state.context, event }, undefined)) continue;
    if (!c.counts) return undefined;
    const context = applyAssigns(c.assigns, state.context, event);
    if (!c.next) return { leaf: state.leaf, context, history: state.history };
    const s = typeof c.next === 'function' ? c.next(state.history) : c.next;
    return { leaf: s.leaf, context, history: s.record ? { ...state.history, ...s.record } : state.history };
  }
  return undefined;
}

/** `assign` actions in order, each over the context the previous one produced. */
function applyAssigns<C, E>(assigns: Assignment<C, E>[], initial: C, event: E): C {
  let context = initial;
  for (const assignment of assigns) {
    const args = { context, event };
    let partial: Record<string, unknown>;
    if (typeof assignment === 'function') partial = assignment(args, undefined) as Record<string, unknown>;
    else {
      partial = {};
      for (const key of Object.keys(assignment)) {
        const a = assignment[key];
        partial[key] = typeof a === 'function' ? (a as (x: typeof args, p: undefined) => unknown)(args, undefined) : a;
      }
    }
    context = Object.assign({}, context, partial);
  }
  return context;
}

/** Descends from `target` to the atomic state entered (initial children, history resolved). */
function enter(target: AnyStateNode, history: Readonly<Record<string, AnyStateNode[]>>): AnyStateNode {
  let n = target;
  for (;;) {
    if (n.type === 'history') {
      const stored = history[n.id];
      if (stored?.length) {
        // Shallow history stores the parent's active child; deep stores the atomic descendants.
        if (stored.length > 1) unsupported('a history with several stored states', n);
        n = stored[0]!;
        continue;
      }
      const t = n.config.target;
      if (t !== undefined) unsupported('a history node with an explicit default target', n);
      n = n.parent!.initial.target[0] as AnyStateNode;
      continue;
    }
    if (n.type === 'compound') {
      n = n.initial.target[0] as AnyStateNode;
      continue;
    }
    return n;
  }
}

/** The effective target of `target` (history resolved), as `getEffectiveTargetStates`. */
function effective(target: AnyStateNode, history: Readonly<Record<string, AnyStateNode[]>>): AnyStateNode {
  if (target.type !== 'history') return target;
  const stored = history[target.id];
  if (stored?.length) return stored[0]!;
  return target.parent!.initial.target[0] as AnyStateNode;
}

/** Exit set and entry of a transition from `source` to `target` while `leaf` is active. */
function step(
  root: AnyStateNode,
  leaf: AnyStateNode,
  source: AnyStateNode,
  target: AnyStateNode,
  reenter: boolean,
  history: Readonly<Record<string, AnyStateNode[]>>,
): Step {
  const eff = effective(target, history);
  let domain: AnyStateNode | undefined;
  if (!reenter && (eff === source || isDescendant(eff, source))) domain = source;
  else domain = ancestorsOf(eff).find((a) => isDescendant(source, a)) ?? (reenter ? undefined : root);
  if (!domain) return unsupported('a re-entering root transition', source);
  const active = [leaf, ...ancestorsOf(leaf)];
  const exited = active.filter((s) => isDescendant(s, domain));
  if (reenter && source === domain) exited.push(domain);
  let record: Record<string, AnyStateNode[]> | undefined;
  for (const x of exited) {
    for (const h of Object.values(x.states ?? {}) as AnyStateNode[]) {
      if (h.type !== 'history') continue;
      record ??= {};
      record[h.id] =
        h.history === 'deep'
          ? active.filter((s) => s.type !== 'compound' && isDescendant(s, x))
          : active.filter((s) => s.parent === x);
    }
  }
  return { leaf: enter(target, history), record };
}
