/**
 * The global kill-switch (lock 3) as its own small machine: released ⇄ engaged. Engaging twice or
 * releasing a released switch are illegal transitions, so its stream reads as a clean alternation.
 */
import { assign, setup } from 'xstate';
import type { KillSwitchEvent } from '../events/index.js';
import { KILL_SWITCH_STREAM } from '../events/streams.js';

export { KILL_SWITCH_STREAM };

export interface KillSwitchContext {
  reason?: string;
  since?: string;
}

export const killSwitchMachine = setup({
  types: { context: {} as KillSwitchContext, events: {} as KillSwitchEvent },
}).createMachine({
  id: 'killswitch',
  initial: 'released',
  context: {},
  states: {
    released: {
      on: {
        KillSwitchEngaged: {
          target: 'engaged',
          actions: assign(({ event }) => ({ reason: event.data.reason, since: event.data.at })),
        },
      },
    },
    engaged: {
      on: {
        KillSwitchReleased: {
          target: 'released',
          actions: assign(({ event }) => ({ reason: undefined, since: event.data.at })),
        },
      },
    },
  },
});
