/**
 * The one command handler: read the stream → fold → decide → sign → append with the expected
 * version. A lost race (ConcurrencyError) is retried from a fresh read, so decide always sees the
 * latest state; the store's expected-version check is what makes that safe. Every event is signed
 * by the acting member (src/governance/authority.ts), who must hold the role its type needs.
 */
import { ConcurrencyError } from '../errors.js';
import type { AppendContext, EventStore, StoredEvent } from '../store/index.js';
import { refreshAuthority, signEvents, type Authority } from '../governance/authority.js';
import {
  decide,
  evolve,
  foldLenient,
  MACHINE_VERSION,
  toStorable,
  type CutState,
  type DomainEvent,
  type SkippedEvent,
} from '../domain/index.js';
import { cutStreamId } from '../../events/streams.js';

export interface Handled {
  before: CutState;
  after: CutState;
  events: StoredEvent[];
}

/**
 * Records the events `propose(state)` returns for the cut, after the decider accepts each one.
 * Retries lost races up to `attempts` times.
 */
export async function handle(
  store: EventStore,
  cutId: string,
  propose: (state: CutState) => DomainEvent[],
  context: AppendContext & { auth: Authority },
  attempts = 3,
): Promise<Handled> {
  const streamId = cutStreamId(cutId);
  for (let attempt = 1; ; attempt++) {
    const stored = await store.readStream(streamId);
    // Lenient: an illegal event someone appended is left out (status and report show it), so it
    // can never stop the cut's legal commands, a revert above all.
    const before = foldLenient(stored).state;
    let state = before;
    const accepted: DomainEvent[] = [];
    for (const e of propose(before)) {
      for (const ok of decide(e, state)) {
        accepted.push(ok);
        state = evolve(state, ok);
      }
    }
    try {
      const { auth: given, ...appendContext } = context;
      const auth = await refreshAuthority(store, given);
      const signed = await signEvents(
        auth,
        streamId,
        stored.length,
        accepted.map((e) => toStorable(e, { machineVersion: MACHINE_VERSION })),
      );
      const result = await store.append(streamId, signed, {
        expectedVersion: stored.length === 0 ? 'no_stream' : stored.length,
        context: { ...appendContext, actor: auth.signer.name },
      });
      return { before, after: state, events: result.events };
    } catch (err) {
      if (err instanceof ConcurrencyError && attempt < attempts) continue;
      throw err;
    }
  }
}

/**
 * The cut's stored events and state, folded leniently: `skipped` lists the events the machine
 * refused or whose schema failed (violations to show, never a reason to fail). Throws when no such
 * cut exists.
 */
export async function loadCut(
  store: EventStore,
  cutId: string,
): Promise<{ events: StoredEvent[]; state: CutState; skipped: SkippedEvent[] }> {
  const events = await store.readStream(cutStreamId(cutId));
  if (events.length === 0) {
    const { InvalidInputError } = await import('../errors.js');
    throw new InvalidInputError(`cut: no cut ${JSON.stringify(cutId)} in this store`);
  }
  return { events, ...foldLenient(events) };
}
