/**
 * Call-time evidence for a live start, resume or revert: the three locks read now, and the approvals
 * whose signatures verify against the keys configured now. The machine re-checks the recorded
 * evidence; this module is what makes the evidence true when it is recorded.
 */
import { memberOf } from '../../events/governance.js';
import { approvalPayload, evaluateApprovals } from '../../machines/approvals.js';
import { verifySignature } from '../crypto/signatures.js';
import type { LiveEvidence } from '../../events/index.js';
import { current, type GovernanceState } from '../domain/governance.js';
import type { CutState } from '../domain/index.js';
import type { EventStore } from '../store/index.js';
import { locksNow } from './locks.js';

export interface CallTimeEvidence {
  evidence: LiveEvidence;
  /** Reasons to refuse found at call time beyond what the machine checks (e.g. a key no longer configured). */
  reasons: string[];
}

/**
 * The three locks now (the config file re-read from disk), and each approval checked against the
 * governance in force now (never against the key the approval carries): still a member, still an
 * approver, the same key, its signature valid; the approvals that hold must satisfy the policy in
 * force at `at` (expiry included), so a resume that records no start event re-checks them too.
 */
export async function gatherEvidence(
  store: EventStore,
  configFile: string,
  env: NodeJS.ProcessEnv,
  state: CutState,
  at: string,
  governance: GovernanceState,
): Promise<CallTimeEvidence> {
  const locks = await locksNow(store, configFile, env);
  const c = state.snapshot.context;
  const reasons = [...locks.closed];
  const approvals: string[] = [];
  const gov = current(governance)!;
  const valid: typeof c.approvals = [];
  const invalid: string[] = [];
  for (const a of c.approvals) {
    const member = memberOf(gov.registry, a.approver);
    if (!member) invalid.push(`approval by ${a.approver}: not a member of governance version ${gov.version}`);
    else if (!member.roles.includes('approver'))
      invalid.push(`approval by ${a.approver}: no longer an approver at governance version ${gov.version}`);
    else if (a.roles.some((r) => !member.roles.includes(r)))
      invalid.push(
        `approval by ${a.approver}: claims roles ${a.roles.join(', ')}, enrolled with ${member.roles.join(', ')}`,
      );
    else if (member.publicKey !== a.publicKey)
      invalid.push(`approval by ${a.approver}: signed with a key that is not the one enrolled now`);
    else if (
      a.governanceVersion === undefined ||
      !verifySignature(member.publicKey, Buffer.from(approvalPayload(a)), a.signature)
    )
      invalid.push(`approval by ${a.approver}: signature does not verify against the enrolled key`);
    else valid.push(a);
  }
  const verdict = evaluateApprovals(
    valid,
    { cutId: c.cutId, planHash: c.planHash, author: c.author, authorKey: c.authorKey, policy: gov.registry.policy },
    at,
  );
  if (!verdict.ok) reasons.push(...invalid, ...verdict.reasons);
  approvals.push(...verdict.counted);
  return {
    evidence: {
      at,
      locks: locks.evidence,
      approvals,
      governance: gov.version,
      ...(c.lastDryRun ? { dryRunId: c.lastDryRun.runId } : {}),
    },
    reasons,
  };
}
