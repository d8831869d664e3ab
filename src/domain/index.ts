/** The pure core's public face: fold, admit, the commands and their decider, replay, the kill-switch. */
export * from './state.js';
export * from './decide.js';
export * from './commands.js';
export * from './replay.js';
export * from './killswitch.js';
export * from './governance-commands.js';
export { toStorable, type DomainEvent } from '../../events/index.js';
export { MACHINE_VERSION, PHASES } from '../../machines/cut.js';
export { KILL_SWITCH_STREAM } from '../../machines/killswitch.js';
