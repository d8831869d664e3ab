/**
 * The one command handler, for every stream (cuts, the kill-switch, governance), in the spirit of
 * Emmett's `CommandHandler`: read the stream → fold → `decide(command, state)` → sign → append
 * with the expected version. A lost race (ConcurrencyError) re-reads the stream and decides
 * again, so a decision is never made on a stale state; the store's expected-version check is what
 * makes that safe. Signing is handed in (src/governance/authority.ts `signingAs`), so this module
 * knows the store and nothing of the domain.
 */
import { ConcurrencyError } from '../errors.js';
import type { AppendContext, EventStore, NewEvent, StoredEvent, StreamCondition } from '../store/index.js';

/** A stream's pure decision logic: its state from its events, and the events a command records. */
export interface Decider<State, Command, Event extends { type: string; data: unknown }> {
  /** The state of the stream's stored events (pure). */
  fold(events: StoredEvent[]): State;
  /** The events `command` records in `state`, or a typed refusal (pure; may throw). */
  decide(command: Command, state: State): Event[];
  /** The state after one decided event; without it the handler re-folds the stored events. */
  evolve?(state: State, event: Event): State;
  /**
   * Other streams the decided events rest on, at the versions their evidence read (a start's
   * kill-switch). The append commits only while they still are (src/store `conditions`).
   */
  conditions?(events: Event[]): StreamCondition[];
}

/**
 * Turns decided events into signed, storable ones for positions `fromVersion + 1 …` of `streamId`,
 * given the state they were decided on. Returns the events and the acting member's name.
 */
export type Sign<State, Event> = (
  events: Event[],
  at: { streamId: string; fromVersion: number; state: State },
) => Promise<{ events: NewEvent[]; actor: string }>;

export interface Handled<State> {
  before: State;
  after: State;
  events: StoredEvent[];
}

/**
 * Decides `command` on the stream's current state and appends what it decides, signed, in one
 * append with the expected version (and the decider's conditions on other streams). `command` may
 * be a function of the state, awaited on every attempt: call-time evidence gathered there is read
 * again after a lost race. Retries a lost race up to `attempts` times, each from a fresh read.
 * Throws the decider's refusal (GovernanceRefused, IllegalTransition) before anything is
 * appended; an empty decision appends nothing.
 */
export async function handle<State, Command, Event extends { type: string; data: unknown }>(
  store: EventStore,
  streamId: string,
  command: Command | ((state: State) => Command | Promise<Command>),
  decider: Decider<State, Command, Event>,
  options: { sign: Sign<State, Event>; context?: AppendContext; attempts?: number },
): Promise<Handled<State>> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    const stored = await store.readStream(streamId);
    const before = decider.fold(stored);
    const cmd =
      typeof command === 'function' ? await (command as (state: State) => Command | Promise<Command>)(before) : command;
    const decided = decider.decide(cmd, before);
    if (decided.length === 0) return { before, after: before, events: [] };
    try {
      const signed = await options.sign(decided, { streamId, fromVersion: stored.length, state: before });
      const result = await store.append(streamId, signed.events, {
        expectedVersion: stored.length === 0 ? 'no_stream' : stored.length,
        context: { ...options.context, actor: signed.actor },
        ...(decider.conditions ? { conditions: decider.conditions(decided) } : {}),
      });
      const evolve = decider.evolve;
      const after = evolve
        ? decided.reduce((s, e) => evolve(s, e), before)
        : decider.fold([...stored, ...result.events]);
      return { before, after, events: result.events };
    } catch (err) {
      if (err instanceof ConcurrencyError && attempt < attempts) continue;
      throw err;
    }
  }
}
