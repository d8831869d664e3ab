/**
 * The kill-switch stream folded and decided with its own machine: engage only when released,
 * release only when engaged (both refusals are IllegalTransition, exit 3).
 */
import { getInitialSnapshot, transition } from 'xstate';
import { KillSwitchEvent } from '../../events/index.js';
import { killSwitchMachine } from '../../machines/killswitch.js';
import { IllegalTransitionError, InvalidInputError } from '../errors.js';

export interface KillSwitchState {
  engaged: boolean;
  reason?: string;
  since?: string;
  by?: string;
  version: number;
}

type Stored = { type: string; data: unknown; metadata?: Record<string, unknown> | null };

/** Folds the kill-switch stream. */
export function foldKillSwitch(events: Stored[]): KillSwitchState {
  let snap = getInitialSnapshot(killSwitchMachine);
  let by: string | undefined;
  for (const e of events) {
    const parsed = KillSwitchEvent.parse({ type: e.type, data: e.data });
    [snap] = transition(killSwitchMachine, snap, parsed);
    by = typeof e.metadata?.actor === 'string' ? e.metadata.actor : by;
  }
  const engaged = snap.matches('engaged');
  return {
    engaged,
    version: events.length,
    ...(snap.context.reason ? { reason: snap.context.reason } : {}),
    ...(snap.context.since ? { since: snap.context.since } : {}),
    ...(by ? { by } : {}),
  };
}

/** Engage (with the operator's reason) or release, at the time the command carries. */
export type KillSwitchCommand = { action: 'engage'; reason: string; at: string } | { action: 'release'; at: string };

/** The event to record for engage/release, or IllegalTransitionError. */
export function decideKillSwitch(command: KillSwitchCommand, state: KillSwitchState): KillSwitchEvent[] {
  if (command.action === 'engage') {
    if (state.engaged)
      throw new IllegalTransitionError(`the kill-switch is already engaged (${state.reason ?? 'no reason'})`);
    // Checked before anything is recorded: an event the fold cannot read would stop every later
    // read of the stream (lock 3 could no longer be released, and every live run would fail).
    if (typeof command.reason !== 'string' || command.reason.trim() === '')
      throw new InvalidInputError('killswitch engage: --reason must say why (it is empty)');
    const event: KillSwitchEvent = { type: 'KillSwitchEngaged', data: { reason: command.reason, at: command.at } };
    const checked = KillSwitchEvent.safeParse(event);
    if (!checked.success)
      throw new InvalidInputError(
        `killswitch engage: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    return [event];
  }
  if (!state.engaged) throw new IllegalTransitionError('the kill-switch is already released');
  return [{ type: 'KillSwitchReleased', data: { at: command.at } }];
}
