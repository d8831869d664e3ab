/** Lock 3: engage or release the store's kill-switch stream (its own small machine decides). */
import { decideKillSwitch, foldKillSwitch, KILL_SWITCH_STREAM, MACHINE_VERSION, type KillSwitchState } from '../domain/index.js';
import { toStorable } from '../../events/index.js';
import type { Session } from '../workspace/session.js';

export async function setKillSwitch(session: Session, command: { action: 'engage'; reason: string } | { action: 'release' }): Promise<KillSwitchState> {
  const store = await session.store();
  const events = await store.readStream(KILL_SWITCH_STREAM);
  const state = foldKillSwitch(events);
  const at = new Date().toISOString();
  const decided = decideKillSwitch(command.action === 'engage' ? { action: 'engage', reason: command.reason, at } : { action: 'release', at }, state);
  await store.append(KILL_SWITCH_STREAM, decided.map((e) => toStorable(e, { machineVersion: MACHINE_VERSION })), {
    expectedVersion: events.length === 0 ? 'no_stream' : events.length,
    context: { actor: session.actor },
  });
  return foldKillSwitch(await store.readStream(KILL_SWITCH_STREAM));
}

export async function killSwitchStatus(session: Session): Promise<KillSwitchState> {
  const store = await session.store();
  return foldKillSwitch(await store.readStream(KILL_SWITCH_STREAM));
}
