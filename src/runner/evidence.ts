/**
 * Call-time evidence for a live start, resume or revert: the three locks read now, and the approvals
 * whose signatures verify against the keys configured now. The machine re-checks the recorded
 * evidence; this module is what makes the evidence true when it is recorded.
 */
import { verifyApprovalSignature } from '../../machines/approvals.js';
import type { LiveEvidence } from '../../events/index.js';
import type { CutterConfig } from '../config/schema.js';
import type { CutState } from '../domain/index.js';
import type { EventStore } from '../store/index.js';
import { evaluateLocks } from './locks.js';

export interface CallTimeEvidence {
  evidence: LiveEvidence;
  /** Reasons to refuse found at call time beyond what the machine checks (e.g. a key no longer configured). */
  reasons: string[];
}

export async function gatherEvidence(store: EventStore, config: CutterConfig, env: NodeJS.ProcessEnv, state: CutState, at: string): Promise<CallTimeEvidence> {
  const locks = await evaluateLocks(store, config, env);
  const c = state.snapshot.context;
  const reasons = [...locks.closed];
  const approvals: string[] = [];
  for (const a of c.approvals) {
    const configured = config.approvers[a.approver];
    if (!configured) reasons.push(`approval by ${a.approver}: no longer a configured approver`);
    else if (configured.publicKey !== a.publicKey) reasons.push(`approval by ${a.approver}: signed with a key that is no longer configured`);
    else if (!verifyApprovalSignature(a)) reasons.push(`approval by ${a.approver}: signature does not verify`);
    else approvals.push(a.approver);
  }
  return {
    evidence: { at, locks: locks.evidence, approvals, ...(c.lastDryRun ? { dryRunId: c.lastDryRun.runId } : {}) },
    reasons,
  };
}
