/**
 * Call-time evidence for a live start, resume or revert: the three locks read now, and the approvals
 * whose signatures verify against the keys configured now. The machine re-checks the recorded
 * evidence; this module is what makes the evidence true when it is recorded.
 */
import { verifyApprovalSignature } from '../../machines/approvals.js';
import type { LiveEvidence } from '../../events/index.js';
import type { CutState } from '../domain/index.js';
import type { EventStore } from '../store/index.js';
import { approvalReasonsAt } from './checks.js';
import { locksNow } from './locks.js';

export interface CallTimeEvidence {
  evidence: LiveEvidence;
  /** Reasons to refuse found at call time beyond what the machine checks (e.g. a key no longer configured). */
  reasons: string[];
}

/**
 * Reads the locks now (the config file re-read from disk), and checks the cut's approvals against
 * the approvers configured now and against the policy at `at` (expiry included), so a resume that
 * records no start event re-checks them too.
 */
export async function gatherEvidence(store: EventStore, configFile: string, env: NodeJS.ProcessEnv, state: CutState, at: string): Promise<CallTimeEvidence> {
  const locks = await locksNow(store, configFile, env);
  const c = state.snapshot.context;
  const reasons = [...locks.closed];
  const approvals: string[] = [];
  // An unreadable config has already closed lock 1: there are no configured keys to check against.
  for (const a of locks.config ? c.approvals : []) {
    const configured = locks.config?.approvers[a.approver];
    if (!configured) reasons.push(`approval by ${a.approver}: no longer a configured approver`);
    else if (configured.publicKey !== a.publicKey) reasons.push(`approval by ${a.approver}: signed with a key that is no longer configured`);
    else if (!verifyApprovalSignature(a)) reasons.push(`approval by ${a.approver}: signature does not verify`);
    else approvals.push(a.approver);
  }
  reasons.push(...approvalReasonsAt(state, at));
  return {
    evidence: { at, locks: locks.evidence, approvals, ...(c.lastDryRun ? { dryRunId: c.lastDryRun.runId } : {}) },
    reasons,
  };
}
