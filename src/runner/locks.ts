/**
 * The three kill-switch locks, evaluated at call time — never cached, never defaulted open:
 * (1) `execution.enabled: true` in the config, (2) CUTTER_EXECUTION_ENABLED=1 in the environment,
 * (3) the store's kill-switch stream released. The result is evidence the runner records in
 * LiveRunStarted / RunResumed / RevertStarted, and the reasons it refuses with when any is closed.
 */
import type { CutterConfig } from '../config/schema.js';
import type { EventStore } from '../store/index.js';
import { foldKillSwitch, KILL_SWITCH_STREAM } from '../domain/index.js';

export interface LockEvidence {
  config: boolean;
  env: boolean;
  killSwitch: boolean;
  killSwitchVersion: number;
}

export interface LockCheck {
  evidence: LockEvidence;
  /** One line per closed lock; empty when all three are open. */
  closed: string[];
}

/** Reads the kill-switch stream and the environment now, and returns the evidence. */
export async function evaluateLocks(store: EventStore, config: CutterConfig, env: NodeJS.ProcessEnv): Promise<LockCheck> {
  const ks = await killSwitchState(store);
  const evidence: LockEvidence = {
    config: config.execution.enabled === true,
    env: env.CUTTER_EXECUTION_ENABLED === '1',
    killSwitch: !ks.engaged,
    killSwitchVersion: ks.version,
  };
  const closed: string[] = [];
  if (!evidence.config) closed.push('lock 1 closed: execution.enabled is not true in the config');
  if (!evidence.env) closed.push('lock 2 closed: CUTTER_EXECUTION_ENABLED is not 1 in the environment');
  if (!evidence.killSwitch) closed.push(`lock 3 closed: the kill-switch is engaged${ks.reason ? ` (${ks.reason})` : ''}`);
  return { evidence, closed };
}

/** The kill-switch's current state, folded from its stream. */
export async function killSwitchState(store: EventStore): Promise<{ engaged: boolean; reason?: string; version: number; since?: string; by?: string }> {
  const events = await store.readStream(KILL_SWITCH_STREAM);
  return foldKillSwitch(events);
}
