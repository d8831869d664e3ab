/**
 * `cutter approve <cut> --as <approver>`: sign {cutId, planHash, decision, at} with the approver's
 * private key and record ApprovalGranted. The approver must be configured, and the key on disk must
 * be the configured one; the machine refuses the author (four-eyes) and duplicates.
 */
import { signApproval, publicKeyText } from '../crypto/approvals.js';
import { keysDir, loadApproverKey } from '../crypto/keys.js';
import { GovernanceRefusedError } from '../errors.js';
import { stateName, summary } from '../domain/index.js';
import type { Session } from '../workspace/session.js';
import { handle, loadCut } from './handle.js';

export async function approveCut(session: Session, cutId: string): Promise<{ cutId: string; approver: string; planHash: string; state: string; approvals: string[] }> {
  const config = session.config();
  const approver = session.actor;
  const configured = config.approvers[approver];
  if (!configured) throw new GovernanceRefusedError(`${approver} is not a configured approver`, [`approvers.${approver}: not in the config`]);
  const key = await loadApproverKey(approver, { dir: keysDir(session.env) });
  if (publicKeyText(key) !== configured.publicKey) {
    throw new GovernanceRefusedError(`the key of ${approver} does not match approvers.${approver}.publicKey in the config`);
  }
  const store = await session.store();
  const { state } = await loadCut(store, cutId);
  const planHash = state.snapshot.context.planHash;
  const at = new Date().toISOString();
  const signature = signApproval(key, { cutId, planHash, decision: 'approve', at });
  const result = await handle(
    store,
    cutId,
    () => [{ type: 'ApprovalGranted', data: { cutId, planHash, approver, roles: configured.roles, decision: 'approve', at, signature, publicKey: configured.publicKey } }],
    { actor: approver, correlationId: cutId },
  );
  return { cutId, approver, planHash, state: stateName(result.after), approvals: summary(result.after).approvals };
}
