/**
 * A cut's stream on the one command handler (src/commands/handle.ts): its decider is the domain's
 * (src/domain/commands.ts), its fold lenient, and every event is signed by the acting member
 * (src/governance/authority.ts), who must hold the role its type needs.
 */
import { handle, type Decider, type Handled } from '../commands/handle.js';
import { InvalidInputError } from '../errors.js';
import type { AppendContext, EventStore, StoredEvent } from '../store/index.js';
import { signingAs, type Authority } from '../governance/authority.js';
import {
  decide,
  evolve,
  foldLenient,
  KILL_SWITCH_STREAM,
  type CutCommand,
  type CutState,
  type DomainEvent,
  type SkippedEvent,
} from '../domain/index.js';
import { cutStreamId } from '../../events/streams.js';

/**
 * The cut's decider. The fold is lenient: an illegal event someone appended is left out (status
 * and report show it), so it can never stop the cut's legal commands, a revert above all.
 */
export const cutDecider: Decider<CutState, CutCommand, DomainEvent> = {
  fold: (events) => foldLenient(events).state,
  decide,
  evolve,
  // Evidence that the kill-switch was released at version v holds only while it still is: replay
  // judges it by the commit order against the kill-switch stream.
  conditions: (events) =>
    events.flatMap((e) => {
      const locks = 'evidence' in e.data ? e.data.evidence.locks : undefined;
      return locks?.killSwitch ? [{ streamId: KILL_SWITCH_STREAM, version: locks.killSwitchVersion }] : [];
    }),
};

/**
 * Decides `command` on the cut's current state and records the events, signed by `auth`'s member.
 * Retries lost races from a fresh read. Throws the decider's refusal before anything is appended.
 */
export function handleCut(
  store: EventStore,
  cutId: string,
  command: CutCommand | ((state: CutState) => CutCommand | Promise<CutCommand>),
  auth: Authority,
  context: AppendContext = {},
): Promise<Handled<CutState>> {
  return handle(store, cutStreamId(cutId), command, cutDecider, { sign: signingAs(store, auth), context });
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
  if (events.length === 0) throw new InvalidInputError(`cut: no cut ${JSON.stringify(cutId)} in this store`);
  return { events, ...foldLenient(events) };
}
