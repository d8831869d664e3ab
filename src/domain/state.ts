/**
 * A cut's state is its events folded through the machine with XState's pure `transition` — never a
 * persisted snapshot. `fold` throws on an event the machine refuses; `replay` reports instead.
 */
import { getInitialSnapshot, transition, type SnapshotFrom } from 'xstate';
import { parseStored, type DomainEvent } from '../../events/index.js';
import { cutMachine, PHASES, type CutContext } from '../../machines/cut.js';
import { IllegalTransitionError } from '../errors.js';

export type CutSnapshot = SnapshotFrom<typeof cutMachine>;

export interface CutState {
  snapshot: CutSnapshot;
  /** Stream version folded so far. */
  version: number;
  /** Time of the last event (its own `at`), if any. */
  lastAt?: string;
}

export interface StoredLike {
  type: string;
  data: unknown;
  metadata?: Record<string, unknown> | null;
  version?: number;
}

export function initialState(): CutState {
  return { snapshot: getInitialSnapshot(cutMachine), version: 0 };
}

/** The state as a dotted path: `planned`, `live.legA`, `completed`. */
export function stateName(state: CutState): string {
  const flat = (v: unknown): string =>
    typeof v === 'string' ? v : Object.entries(v as Record<string, unknown>).map(([k, c]) => `${k}.${flat(c)}`).join(',');
  return flat(state.snapshot.value);
}

export function context(state: CutState): CutContext {
  return state.snapshot.context;
}

/** Whether the machine accepts `event` now. */
export function accepts(state: CutState, event: DomainEvent): boolean {
  return state.snapshot.can(event);
}

/** Applies one accepted event; throws IllegalTransitionError when the machine refuses it. */
export function evolve(state: CutState, event: DomainEvent): CutState {
  if (!state.snapshot.can(event)) {
    throw new IllegalTransitionError(`${event.type} is not allowed in state ${stateName(state)}`, { state: stateName(state), event: event.type });
  }
  const [snapshot] = transition(cutMachine, state.snapshot, event);
  const at = (event.data as { at?: string }).at;
  return { snapshot, version: state.version + 1, ...(at ? { lastAt: at } : state.lastAt ? { lastAt: state.lastAt } : {}) };
}

/** Parses a stored event (upcasting), throwing IllegalTransitionError on a schema failure. */
export function toDomain(stored: StoredLike): DomainEvent {
  const parsed = parseStored(stored);
  if (!parsed.success) throw new IllegalTransitionError(`event ${stored.type} does not match its schema`);
  return parsed.data;
}

/** Folds stored events from the initial state. */
export function fold(events: StoredLike[]): CutState {
  let state = initialState();
  for (const e of events) state = evolve(state, toDomain(e));
  return state;
}

/** The live phase the runner must run next, or null when the cut is not mid-run. */
export function nextLivePhase(state: CutState): (typeof PHASES)[number] | null {
  return state.snapshot.matches('live') ? (state.snapshot.context.phase ?? null) : null;
}

export interface CutSummary {
  cutId: string;
  state: string;
  planHash: string;
  target: string;
  author: string;
  approvals: string[];
  runId: string | null;
  phase: string | null;
  lastDryRun: { runId: string; passed: boolean } | null;
  backupId: string | null;
  version: number;
}

export function summary(state: CutState): CutSummary {
  const c = state.snapshot.context;
  return {
    cutId: c.cutId,
    state: stateName(state),
    planHash: c.planHash,
    target: c.target,
    author: c.author,
    approvals: c.approvals.map((a) => a.approver),
    runId: c.runId ?? null,
    phase: c.phase ?? null,
    lastDryRun: c.lastDryRun ? { runId: c.lastDryRun.runId, passed: c.lastDryRun.passed } : null,
    backupId: c.backup?.backupId ?? null,
    version: state.version,
  };
}
