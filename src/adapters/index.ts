/**
 * Choosing the executor for a mode. `executorFor('live', …)` can only return a LiveExecutionAdapter
 * and `executorFor('dry-run', …)` only a Simulator: asking for the simulator in live mode is a type
 * error, not just a runtime check (invariant 3).
 */
import type { TargetSpec } from '../config/target.js';
import type { ChangeSource } from '../config/changes.js';
import type { AdapterHooks, LiveExecutionAdapter, Simulator } from './port.js';
import { createPostgresTableAdapter } from './postgres-table.js';
import { createSimulator } from './simulator.js';
import { LIVE_EXECUTOR } from '../../events/index.js';

export type Mode = 'live' | 'dry-run';
export type ExecutorFor<M extends Mode> = M extends 'live' ? LiveExecutionAdapter : Simulator;

/**
 * The executor for a mode: `live` gives the postgres-table adapter (writes, one transaction per
 * phase), `dry-run` the READ ONLY simulator. The return type follows the mode, so live code cannot
 * obtain the simulator (checked by the compiler: test/unit/adapter-types.unit.test.ts). Opens no
 * connection until used. `hooks` reach a live adapter only (a simulator commits nothing).
 */
export function executorFor<M extends Mode>(
  mode: M,
  spec: TargetSpec,
  changes: ChangeSource,
  hooks?: AdapterHooks,
): ExecutorFor<M> {
  const executor = mode === 'live' ? createPostgresTableAdapter(spec, changes, hooks) : createSimulator(spec, changes);
  return executor as ExecutorFor<M>;
}

/** Runtime guard for code paths that receive an executor from elsewhere. */
export function assertLive(executor: LiveExecutionAdapter | Simulator): asserts executor is LiveExecutionAdapter {
  if (executor.executor !== LIVE_EXECUTOR)
    throw new Error(`invariant 3: a live run cannot use executor ${executor.executor}`);
}

export type { LiveExecutionAdapter, Simulator } from './port.js';
export type { ChangeSource } from '../config/changes.js';
