/**
 * The three kill-switch locks, evaluated at call time — never cached, never defaulted open:
 * (1) `execution.enabled: true` in the config, (2) CUTTER_EXECUTION_ENABLED=1 in the environment,
 * (3) the store's kill-switch stream released. The result is evidence the runner records in
 * LiveRunStarted / RunResumed / RevertStarted, and the reasons it refuses with when any is closed.
 */
import { loadConfig } from '../config/load.js';
import type { CutterConfig } from '../config/schema.js';
import type { EventStore } from '../store/index.js';
import { foldKillSwitch, KILL_SWITCH_STREAM } from '../domain/index.js';
import { checkKillSwitchStream } from '../domain/trust.js';
import { nodeCrypto, readGovernance } from '../governance/authority.js';
import { closedLockReasons } from './checks.js';

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
  /** The kill-switch's engage reason, when it is engaged. */
  killSwitchReason?: string;
}

/** Evaluates the locks with `config` as lock 1's source (prefer `locksNow`, which reads the file). */
export async function evaluateLocks(
  store: EventStore,
  config: CutterConfig,
  env: NodeJS.ProcessEnv,
): Promise<LockCheck> {
  const ks = await killSwitchState(store);
  const evidence: LockEvidence = {
    config: config.execution.enabled === true,
    env: env.CUTTER_EXECUTION_ENABLED === '1',
    killSwitch: !ks.engaged,
    killSwitchVersion: ks.version,
  };
  return {
    evidence,
    closed: closedLockReasons(evidence, ks.reason),
    ...(ks.engaged ? { killSwitchReason: ks.reason ?? '' } : {}),
  };
}

/**
 * The three locks as they are NOW: lock 1 from the config file on disk (re-read, never the copy
 * the process loaded at start; an unreadable file closes it), lock 2 from the environment, lock 3
 * from the kill-switch stream. Called before every start, resume, phase and revert.
 */
export async function locksNow(
  store: EventStore,
  configFile: string,
  env: NodeJS.ProcessEnv,
): Promise<LockCheck & { config?: CutterConfig }> {
  let config: CutterConfig | undefined;
  let problem: string | undefined;
  try {
    config = loadConfig(configFile).config;
  } catch (err) {
    problem = err instanceof Error ? err.message : String(err);
  }
  const check = await evaluateLocks(store, config ?? ({ execution: { enabled: false } } as CutterConfig), env);
  if (problem) check.closed[0] = `lock 1 closed: the config cannot be read now (${problem})`;
  return { ...check, ...(config ? { config } : {}) };
}

/**
 * The kill-switch's current state, folded from its stream — failing closed: if any event in the
 * stream is not validly signed by a member holding its role (a release written through the bare
 * store API, say), the switch is treated as engaged until an admin's signed events settle it.
 */
export async function killSwitchState(
  store: EventStore,
): Promise<{ engaged: boolean; reason?: string; version: number; since?: string; by?: string }> {
  const events = await store.readStream(KILL_SWITCH_STREAM);
  const state = foldKillSwitch(events);
  const governance = await readGovernance(store);
  const { violations } = checkKillSwitchStream(
    events.map((e) => ({ ...e, streamId: KILL_SWITCH_STREAM })),
    governance,
    nodeCrypto,
  );
  const bad = violations[0];
  if (!bad) return state;
  return {
    ...state,
    engaged: true,
    reason: `treated as engaged: kill-switch event ${bad.version} (${bad.type}) fails ${bad.rule}: ${bad.message}`,
  };
}
