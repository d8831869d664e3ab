/**
 * Lock 3: engage or release the store's kill-switch stream (its own small machine decides). Any
 * enrolled member may engage it; only an admin may release it. Both events are signed.
 */
import {
  decideKillSwitch,
  foldKillSwitch,
  KILL_SWITCH_STREAM,
  MACHINE_VERSION,
  type KillSwitchState,
} from '../domain/index.js';
import { toStorable } from '../../events/index.js';
import { signEvents } from '../governance/authority.js';
import type { Session } from '../workspace/session.js';

export async function setKillSwitch(
  session: Session,
  command: { action: 'engage'; reason: string } | { action: 'release' },
): Promise<KillSwitchState> {
  const store = await session.store();
  const auth = await session.authority();
  const events = await store.readStream(KILL_SWITCH_STREAM);
  const state = foldKillSwitch(events);
  const at = new Date().toISOString();
  const decided = decideKillSwitch(
    command.action === 'engage' ? { action: 'engage', reason: command.reason, at } : { action: 'release', at },
    state,
  );
  const signed = await signEvents(
    auth,
    KILL_SWITCH_STREAM,
    events.length,
    decided.map((e) => toStorable(e, { machineVersion: MACHINE_VERSION })),
  );
  await store.append(KILL_SWITCH_STREAM, signed, {
    expectedVersion: events.length === 0 ? 'no_stream' : events.length,
    context: { actor: auth.signer.name },
  });
  return foldKillSwitch(await store.readStream(KILL_SWITCH_STREAM));
}

export async function killSwitchStatus(session: Session): Promise<KillSwitchState> {
  const store = await session.store();
  return foldKillSwitch(await store.readStream(KILL_SWITCH_STREAM));
}
