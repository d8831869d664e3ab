/**
 * `cutter approve <cut> --as <approver>`: sign {cutId, planHash, approver, roles, governance
 * version, at} with the approver's enrolled key and record ApprovalGranted (itself signed). The
 * approver must be an enrolled member with role `approver`, and the key on disk the enrolled one;
 * the machine refuses the author (by name and by key) and a second approval by the same key.
 * `--plan-hash` confirms the plan the approver reviewed.
 */
import { memberOf } from '../../events/governance.js';
import { approvalPayload } from '../../machines/approvals.js';
import { GovernanceRefusedError } from '../errors.js';
import { stateName, summary } from '../domain/index.js';
import type { Session } from '../workspace/session.js';
import { handleCut, loadCut } from './handle.js';
import type { TargetDefinition } from '../config/target.js';

export interface ApproveResult {
  cutId: string;
  approver: string;
  planHash: string;
  state: string;
  approvals: string[];
  governanceVersion: number;
  key: string;
  /** What the approval approves beside the plan hash: the target's table and definition as planned. */
  plan: {
    target: string;
    table: string;
    definition?: TargetDefinition;
    author: string;
    reason: string;
    rowCount: number;
  };
}

export async function approveCut(
  session: Session,
  cutId: string,
  opts: { planHash?: string } = {},
): Promise<ApproveResult> {
  const store = await session.store();
  const auth = await session.authority();
  const { state, events } = await loadCut(store, cutId);
  const planned = events[0]!.data as ApproveResult['plan'];
  const plan = {
    target: planned.target,
    table: planned.table,
    ...(planned.definition ? { definition: planned.definition } : {}),
    author: planned.author,
    reason: planned.reason,
    rowCount: planned.rowCount,
  };
  const planHash = state.snapshot.context.planHash;
  if (opts.planHash !== undefined && opts.planHash !== planHash) {
    throw new GovernanceRefusedError(
      `cut ${cutId}: you reviewed plan hash ${opts.planHash}, the recorded plan hash is ${planHash}`,
    );
  }
  const approver = auth.signer.name;
  const member = memberOf(auth.registry, approver)!;
  const roles = member.roles.filter((r) => r !== 'admin');
  const at = new Date().toISOString();
  const payload = {
    cutId,
    planHash,
    decision: 'approve' as const,
    at,
    approver,
    roles,
    governanceVersion: auth.version,
  };
  const signature = await auth.signer.sign(Buffer.from(approvalPayload(payload)));
  const result = await handleCut(
    store,
    cutId,
    { type: 'ApproveCut', data: { ...payload, signature, publicKey: member.publicKey } },
    auth,
    { correlationId: cutId },
  );
  return {
    cutId,
    approver,
    planHash,
    state: stateName(result.after),
    approvals: summary(result.after).approvals,
    governanceVersion: auth.version,
    key: auth.signer.fingerprint,
    plan,
  };
}
