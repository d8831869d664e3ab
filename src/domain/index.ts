/** The pure core's public face: fold, decide, replay, the kill-switch, and what they work on. */
export * from './state.js';
export * from './decide.js';
export * from './replay.js';
export * from './killswitch.js';
export { toStorable, type DomainEvent } from '../../events/index.js';
export { MACHINE_VERSION, PHASES } from '../../machines/cut.js';
export { KILL_SWITCH_STREAM } from '../../machines/killswitch.js';
