/**
 * Lock 3: engage or release the store's kill-switch stream through the one command handler (its
 * own small machine decides, src/domain/killswitch.ts). Any enrolled member may engage it; only an
 * admin may release it. Both events are signed.
 */
import { handle, type Decider } from '../commands/handle.js';
import {
  decideKillSwitch,
  foldKillSwitch,
  KILL_SWITCH_STREAM,
  type KillSwitchCommand,
  type KillSwitchState,
} from '../domain/index.js';
import type { KillSwitchEvent } from '../../events/index.js';
import { signingAs, type Authority } from '../governance/authority.js';
import type { EventStore } from '../store/index.js';

/** What the kill-switch commands need of a session (src/workspace/session.ts provides it). */
export interface KillSwitchSession {
  store(): Promise<EventStore>;
  authority(): Promise<Authority>;
}

export const killSwitchDecider: Decider<KillSwitchState, KillSwitchCommand, KillSwitchEvent> = {
  fold: foldKillSwitch,
  decide: decideKillSwitch,
};

/**
 * Engages (with a reason) or releases the kill-switch, signed by the session's member; returns the
 * state after. Throws IllegalTransition when it already is so, GovernanceRefused when the member
 * may not (releasing needs an admin).
 */
export async function setKillSwitch(
  session: KillSwitchSession,
  command: { action: 'engage'; reason: string } | { action: 'release' },
): Promise<KillSwitchState> {
  const store = await session.store();
  const at = new Date().toISOString();
  const result = await handle(store, KILL_SWITCH_STREAM, { ...command, at }, killSwitchDecider, {
    sign: signingAs(store, await session.authority()),
  });
  return result.after;
}

/** The kill-switch as its stream says now. */
export async function killSwitchStatus(session: Pick<KillSwitchSession, 'store'>): Promise<KillSwitchState> {
  const store = await session.store();
  return foldKillSwitch(await store.readStream(KILL_SWITCH_STREAM));
}
