/**
 * Admission: `admit(event, state)` passes when the machine accepts the event, or refuses with a
 * typed error whose reasons name EVERY unmet condition. Legality is the machine's; this module only
 * explains a refusal in an operator's words. The decider (commands.ts) admits every event it
 * decides through here.
 */
import { evaluateApprovals } from '../../machines/approvals.js';
import type { DomainEvent, LockEvidence } from '../../events/index.js';
import { GovernanceRefusedError, IllegalTransitionError } from '../errors.js';
import { accepts, stateName, type CutState } from './state.js';

/** Returns `[event]` when the machine accepts it in `state`; otherwise throws with every reason. */
export function admit(event: DomainEvent, state: CutState): DomainEvent[] {
  if (accepts(state, event)) return [event];
  throw refusal(event, state);
}

function lockReasons(locks: LockEvidence): string[] {
  const r: string[] = [];
  if (!locks.config) r.push('lock 1 closed: execution.enabled is not true in the config');
  if (!locks.env) r.push('lock 2 closed: CUTTER_EXECUTION_ENABLED is not 1 in the environment');
  if (!locks.killSwitch) r.push('lock 3 closed: the kill-switch is engaged');
  return r;
}

/** The error explaining why `event` is refused in `state`. */
export function refusal(event: DomainEvent, state: CutState): Error {
  const name = stateName(state);
  const c = state.snapshot.context;
  const cut = c.cutId || '(unplanned)';
  const illegal = (why: string) =>
    new IllegalTransitionError(`cut ${cut} is ${name}: ${why}`, { state: name, event: event.type });
  if (name === 'new' && event.type !== 'CutPlanned') return illegal(`no such cut has been planned`);
  if ('planHash' in event.data && c.planHash && event.data.planHash !== c.planHash) {
    return new GovernanceRefusedError(
      `cut ${cut}: plan hash ${event.data.planHash.slice(0, 12)}… differs from the planned ` +
        `${c.planHash.slice(0, 12)}… (the plan is immutable)`,
    );
  }
  switch (event.type) {
    case 'CutPlanned':
      return illegal('it has already been planned');
    case 'ApprovalGranted':
      return approvalRefusal(event, state, illegal);
    case 'LiveRunStarted':
    case 'RunResumed':
      return runStartRefusal(event, state, illegal);
    case 'RunContinued':
      return continueRefusal(event, state, illegal);
    case 'RevertStarted':
      return revertRefusal(event, state, illegal);
    case 'CutAborted':
    case 'DryRunStarted':
    case 'PhaseSimulated':
    case 'DryRunCompleted':
    case 'BackupTaken':
    case 'LegAWritten':
    case 'LegBRecorded':
    case 'WriteVerified':
    case 'VerifyFailed':
    case 'LifecycleEnacted':
    case 'PhaseFailed':
    case 'RunHalted':
    case 'CutReverted':
    case 'RevertFailed':
      return illegal(`${event.type} is not allowed there`);
    default: {
      const never: never = event;
      return never;
    }
  }
}

/** Why an approval is refused: the wrong state, the approver or their key already counted, or the policy. */
function approvalRefusal(
  event: Extract<DomainEvent, { type: 'ApprovalGranted' }>,
  state: CutState,
  illegal: (why: string) => Error,
): Error {
  const { name, c, cut, ctx } = seen(state);
  if (!['planned', 'approved'].includes(name)) return illegal('approvals are recorded only while planned or approved');
  if (c.approvals.some((a) => a.approver === event.data.approver))
    return new GovernanceRefusedError(`${event.data.approver} has already approved cut ${cut}`);
  const sameKey = c.approvals.find((a) => a.publicKey === event.data.publicKey);
  if (sameKey)
    return new GovernanceRefusedError(`approval by ${event.data.approver} refused`, [
      `approval by ${event.data.approver}: signed with the key that already approved as ${sameKey.approver}` +
        ' (four-eyes counts keys)',
    ]);
  const verdict = evaluateApprovals([event.data], {
    ...ctx,
    policy: { ...ctx.policy, requiredApprovals: 1, roles: [] },
  });
  return new GovernanceRefusedError(`approval by ${event.data.approver} refused`, verdict.reasons);
}

/** Why continuing an interrupted run or revert is refused: closed locks and (for a live run) approval reasons. */
function continueRefusal(
  event: Extract<DomainEvent, { type: 'RunContinued' }>,
  state: CutState,
  illegal: (why: string) => Error,
): Error {
  const { name, c, cut, ctx } = seen(state);
  if (!name.startsWith('live.') && name !== 'reverting')
    return illegal('RunContinued needs an interrupted live run or revert');
  const reasons = [...lockReasons(event.data.evidence.locks)];
  if (name !== 'reverting')
    reasons.push(...evaluateApprovals(c.approvals, ctx, event.data.evidence.at, c.approvalSignatures).reasons);
  if (reasons.length === 0) return illegal('RunContinued is not allowed (another run?)');
  return new GovernanceRefusedError(`continuing the interrupted run of cut ${cut} refused`, reasons);
}

/** Why a revert is refused: no finished, failed or halted live run, a closed lock, or no backup. */
function revertRefusal(
  event: Extract<DomainEvent, { type: 'RevertStarted' }>,
  state: CutState,
  illegal: (why: string) => Error,
): Error {
  const { name, c, cut } = seen(state);
  if (!['completed', 'failed', 'verifyFailed', 'halted', 'revertFailed'].includes(name))
    return illegal('revert needs a finished, failed or halted live run');
  const reasons = lockReasons(event.data.evidence.locks);
  if (!c.backup) reasons.push('no backup was taken: nothing to revert to');
  return reasons.length
    ? new GovernanceRefusedError(`revert of cut ${cut} refused`, reasons)
    : illegal('revert is not allowed');
}

/** Why a live start (or a resume after a halt) is refused: every closed lock, approval and dry-run reason. */
function runStartRefusal(
  event: Extract<DomainEvent, { type: 'LiveRunStarted' | 'RunResumed' }>,
  state: CutState,
  illegal: (why: string) => Error,
): Error {
  const { name, c, cut, ctx } = seen(state);
  const expected = event.type === 'LiveRunStarted' ? 'approved' : 'halted';
  const reasons = [...lockReasons(event.data.evidence.locks)];
  reasons.push(...evaluateApprovals(c.approvals, ctx, event.data.evidence.at, c.approvalSignatures).reasons);
  if (
    event.type === 'LiveRunStarted' &&
    c.policy.requireDryRun &&
    !(c.lastDryRun?.passed && c.lastDryRun.planHash === c.planHash)
  ) {
    reasons.push(`dry run required: no passing dry run for plan hash ${c.planHash.slice(0, 12)}…`);
  }
  if (name !== expected && !(name === 'planned' && event.type === 'LiveRunStarted'))
    return illegal(`${event.type} needs state ${expected}`);
  if (reasons.length === 0) return illegal(`${event.type} is not allowed`);
  return new GovernanceRefusedError(`live run of cut ${cut} refused`, reasons);
}

/** What every refusal reads of the state: its name, context, the cut's name, and the approval context. */
function seen(state: CutState) {
  const c = state.snapshot.context;
  const ctx = { cutId: c.cutId, planHash: c.planHash, author: c.author, authorKey: c.authorKey, policy: c.policy };
  return { name: stateName(state), c, cut: c.cutId || '(unplanned)', ctx };
}
