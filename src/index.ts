/** The library entry for scripts, tests and benchmarks: the store, the machine, the events, replay. */
export { openStore, appendToStream, migrate, START } from './store/index.js';
export type {
  EventStore,
  NewEvent,
  StoredEvent,
  ExpectedVersion,
  Cursor,
  AppendResult,
  ChainReport,
  InlineProjection,
} from './store/index.js';
export { cutMachine, MACHINE_VERSION } from '../machines/cut.js';
export { killSwitchMachine } from '../machines/killswitch.js';
export { toDot, toMermaid } from '../machines/diagram.js';
export { DomainEvent, KillSwitchEvent, CutPlan, parseStored, toStorable } from '../events/index.js';
export { replay, fold, decide, admit } from './domain/index.js';
export * from './errors.js';
