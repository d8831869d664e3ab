/**
 * Test-only fault points (issue #15): the runner process SIGKILLs itself at an exact point of a
 * phase, so a test can prove the recovery of that very point — right BEFORE the phase's commit
 * (inside its transaction, after its last write: nothing may persist) or right AFTER it (committed,
 * its event not appended yet: the re-run must append it marked `reconciled`, never apply twice).
 * Armed by `CUTTER_TEST_FAULT=<before-commit|after-commit>:<backup|legA|legB|verify|enact|revert>`.
 *
 * Why this guard (NODE_ENV=test as well as the fault variable), and not a build-time flag: the e2e
 * tier must kill the CLI that ships (bin/cutter and its one bundle), not a test build of it, or the
 * recovery it proves would be another program's. Two variables must then both be set, and
 * NODE_ENV=test is never a production setting. And even if reached in production the hook cannot
 * weaken a check: its only action is to kill the process — it skips, alters and reorders nothing,
 * so its effect is that of an OOM kill or a power cut at that line, which every run must survive
 * anyway. A malformed value under the guard is refused before the run writes anything, so a typo
 * cannot turn a fault test into one that never faults.
 */
import { InvalidInputError } from '../errors.js';

export const FAULT_PHASES = ['backup', 'legA', 'legB', 'verify', 'enact', 'revert'] as const;
export const FAULT_MOMENTS = ['before-commit', 'after-commit'] as const;
export type FaultPhase = (typeof FAULT_PHASES)[number];
export type FaultMoment = (typeof FAULT_MOMENTS)[number];

let armed: { moment: FaultMoment; phase: FaultPhase } | null | undefined;

/**
 * Reads the fault once (null when none, or when NODE_ENV is not `test`). Called at the start of a
 * live run or revert, before anything is written; throws InvalidInputError on a malformed value.
 */
export function armFaults(env: NodeJS.ProcessEnv = process.env): void {
  if (armed !== undefined) return;
  const spec = env.CUTTER_TEST_FAULT;
  if (!spec || env.NODE_ENV !== 'test') {
    armed = null;
    return;
  }
  const [moment, phase, ...rest] = spec.split(':');
  if (rest.length || !FAULT_MOMENTS.includes(moment as FaultMoment) || !FAULT_PHASES.includes(phase as FaultPhase)) {
    throw new InvalidInputError(
      `CUTTER_TEST_FAULT=${spec}: expected <${FAULT_MOMENTS.join('|')}>:<${FAULT_PHASES.join('|')}>`,
    );
  }
  armed = { moment: moment as FaultMoment, phase: phase as FaultPhase };
}

/** The fault point: SIGKILLs this process when the armed fault names this moment of this phase. */
export function faultPoint(moment: FaultMoment, phase: string): void {
  if (armed === undefined) armFaults();
  if (!armed || armed.moment !== moment || armed.phase !== phase) return;
  process.kill(process.pid, 'SIGKILL');
  // The signal ends the process at once; should the kernel take a moment, no more JavaScript runs.
  const block = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(block, 0, 0, 1000);
}

/** For the adapter: the point before a target phase's commit (inside its transaction). */
export const adapterFaults = { beforeCommit: (phase: string) => faultPoint('before-commit', phase) };
