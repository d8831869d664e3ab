/**
 * A cut's state is its events folded through the machine with XState's pure `transition` — never a
 * persisted snapshot. `fold` throws on an event the machine refuses; `replay` reports instead.
 */
import type { SnapshotFrom } from 'xstate';
import { parseStored, type DomainEvent } from '../../events/index.js';
import { compileMachine, type CompiledState } from '../../machines/compiled.js';
import { cutMachine, PHASES, type CutContext } from '../../machines/cut.js';
import { IllegalTransitionError } from '../errors.js';

export type CutSnapshot = SnapshotFrom<typeof cutMachine>;

/**
 * The machine's transition table, compiled from its definition (machines/compiled.ts): the same
 * guards, actions and targets as XState's `transition`, without building an actor and a snapshot
 * per event. The XState snapshot is materialised only when `state.snapshot` is read.
 */
const compiled = compileMachine<typeof cutMachine, CutContext, DomainEvent>(cutMachine);

export interface CutState {
  /** The XState snapshot of this state (materialised on first read). */
  readonly snapshot: CutSnapshot;
  /** Stream version folded so far. */
  version: number;
  /** Time of the last event (its own `at`), if any. */
  lastAt?: string;
}

/** A folded state: the compiled state, with the XState snapshot built lazily. */
class FoldedState implements CutState {
  #snapshot: CutSnapshot | undefined;
  lastAt?: string;
  constructor(
    readonly folded: CompiledState<CutContext>,
    public version: number,
    lastAt: string | undefined,
  ) {
    if (lastAt !== undefined) this.lastAt = lastAt;
  }
  get snapshot(): CutSnapshot {
    this.#snapshot ??= compiled.snapshot(this.folded);
    return this.#snapshot;
  }
  toJSON() {
    return {
      snapshot: this.snapshot,
      version: this.version,
      ...(this.lastAt !== undefined ? { lastAt: this.lastAt } : {}),
    };
  }
}

/** The compiled state of any CutState (one built from an XState snapshot included). */
const foldedOf = (state: CutState): CompiledState<CutContext> =>
  state instanceof FoldedState ? state.folded : compiled.fromSnapshot(state.snapshot);

export interface StoredLike {
  type: string;
  data: unknown;
  metadata?: Record<string, unknown> | null;
  version?: number;
}

export function initialState(): CutState {
  return new FoldedState(compiled.initial(), 0, undefined);
}

/** The state as a dotted path: `planned`, `live.legA`, `completed`. */
export function stateName(state: CutState): string {
  if (state instanceof FoldedState) return compiled.path(state.folded);
  const flat = (v: unknown): string =>
    typeof v === 'string'
      ? v
      : Object.entries(v as Record<string, unknown>)
          .map(([k, c]) => `${k}.${flat(c)}`)
          .join(',');
  return flat(state.snapshot.value);
}

export function context(state: CutState): CutContext {
  return foldedOf(state).context;
}

/** Whether the machine accepts `event` now. */
export function accepts(state: CutState, event: DomainEvent): boolean {
  return compiled.transition(foldedOf(state), event) !== undefined;
}

/** Applies `event` when the machine accepts it; undefined when it refuses. */
export function tryEvolve(state: CutState, event: DomainEvent): CutState | undefined {
  const next = compiled.transition(foldedOf(state), event);
  if (!next) return undefined;
  const at = (event.data as { at?: string }).at;
  return new FoldedState(next, state.version + 1, at || state.lastAt || undefined);
}

/** Applies one accepted event; throws IllegalTransitionError when the machine refuses it. */
export function evolve(state: CutState, event: DomainEvent): CutState {
  const next = tryEvolve(state, event);
  if (!next)
    throw new IllegalTransitionError(`${event.type} is not allowed in state ${stateName(state)}`, {
      state: stateName(state),
      event: event.type,
    });
  return next;
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

/** An event a lenient fold left out, and why. */
export interface SkippedEvent {
  version: number;
  type: string;
  reason: string;
}

/**
 * Folds stored events from the initial state, skipping (and listing) every event whose schema
 * fails or that the machine refuses, as replay does: one illegal event appended to a stream must
 * not make the cut unreadable or unrevertable. Pure.
 */
export function foldLenient(events: StoredLike[]): { state: CutState; skipped: SkippedEvent[] } {
  let state = initialState();
  const skipped: SkippedEvent[] = [];
  events.forEach((stored, i) => {
    const version = stored.version ?? i + 1;
    const parsed = parseStored(stored);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, 3)
        .map((x) => `${x.path.join('.')}: ${x.message}`)
        .join('; ');
      skipped.push({ version, type: stored.type, reason: `does not match its schema (${issues})` });
      return;
    }
    const next = tryEvolve(state, parsed.data);
    if (!next) {
      skipped.push({
        version,
        type: stored.type,
        reason: `${stored.type} is not allowed in state ${stateName(state)}`,
      });
      return;
    }
    // The state's version counts the stream's events, skipped ones included, so an append after a
    // skipped event still carries the stream's version.
    next.version = version;
    state = next;
  });
  return { state, skipped };
}

/** The live phase the runner must run next, or null when the cut is not mid-run. */
export function nextLivePhase(state: CutState): (typeof PHASES)[number] | null {
  return stateName(state).startsWith('live.') ? (context(state).phase ?? null) : null;
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
  const c = context(state);
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
