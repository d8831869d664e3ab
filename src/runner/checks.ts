/**
 * The runner's call-time refusals that are pure functions of recorded data and the current time:
 * the recorded plan against its hash, approvals against the policy now, which locks are closed,
 * and whether a backup stays inside what the plan named. The runner gathers the inputs (the
 * stream, the clock, the config file, the environment, the kill-switch, the backup) and refuses
 * with these reasons before anything is written.
 */
import { hashOf } from '../../events/canonical.js';
import { evaluateApprovals } from '../../machines/approvals.js';
import type { LockEvidence } from '../../events/index.js';
import type { CutState } from '../domain/index.js';

/** What CutPlanned recorded: the plan and the hash it claims. */
export interface RecordedPlanRef {
  plan: unknown;
  planHash: string;
}

/**
 * Reasons the recorded plan may not run: it does not hash to its recorded plan hash, or that hash
 * is not the one the cut was folded with. Empty when the plan is the one approved. Pure.
 */
export function planIntegrityReasons(recorded: RecordedPlanRef, cutPlanHash: string): string[] {
  const reasons: string[] = [];
  const actual = hashOf(recorded.plan);
  if (actual !== recorded.planHash) {
    reasons.push(
      `the recorded plan hashes to ${actual.slice(0, 12)}…, not to its recorded plan hash ` +
        `${recorded.planHash.slice(0, 12)}…`,
    );
  }
  if (recorded.planHash !== cutPlanHash)
    reasons.push(
      `CutPlanned records plan hash ${recorded.planHash.slice(0, 12)}…, the cut was planned with ` +
        `${cutPlanHash.slice(0, 12)}…`,
    );
  return reasons;
}

/**
 * Reasons the cut's approvals do not satisfy its policy at instant `at` (expiry included): what a
 * resume of a crashed live run must re-check, since it records no new start event. Pure.
 */
export function approvalReasonsAt(state: CutState, at: string): string[] {
  const c = state.snapshot.context;
  const ctx = { cutId: c.cutId, planHash: c.planHash, author: c.author, policy: c.policy };
  return evaluateApprovals(c.approvals, ctx, at, c.approvalSignatures).reasons;
}

/** One line per closed lock (empty when all three are open). Pure. */
export function closedLockReasons(locks: LockEvidence, killSwitchReason?: string): string[] {
  const closed: string[] = [];
  if (!locks.config) closed.push('lock 1 closed: execution.enabled is not true in the config');
  if (!locks.env) closed.push('lock 2 closed: CUTTER_EXECUTION_ENABLED is not 1 in the environment');
  if (!locks.killSwitch)
    closed.push(`lock 3 closed: the kill-switch is engaged${killSwitchReason ? ` (${killSwitchReason})` : ''}`);
  return closed;
}

/** What a backup must be bound to: the cut, its plan and its target. */
export interface BackupBinding {
  cutId: string;
  planHash: string;
  table: string;
  key: string[];
}

/** The first way a decrypted backup's header is not this cut's, or undefined. Pure. */
export function backupHeaderProblem(header: Partial<BackupBinding>, want: BackupBinding): string | undefined {
  if (header.cutId !== want.cutId) return `the backup is of cut ${JSON.stringify(header.cutId)}, not ${want.cutId}`;
  if (header.planHash !== want.planHash)
    return `the backup is of plan hash ${String(header.planHash).slice(0, 12)}…, not ${want.planHash.slice(0, 12)}…`;
  if (header.table !== undefined && header.table !== want.table)
    return `the backup is of table ${header.table}, not ${want.table}`;
  if (header.key !== undefined && JSON.stringify(header.key) !== JSON.stringify(want.key))
    return `the backup is keyed by (${header.key.join(', ')}), not (${want.key.join(', ')})`;
  return undefined;
}

/** The vault's record of a backup, as far as binding goes. */
export interface VaultRecord {
  backupId: string;
  cutId: string;
  runId: string;
  plaintextSha256: string;
}

/** The first way the vault's backup is not the one BackupTaken bound to the run, or undefined. Pure. */
export function backupRecordProblem(
  row: VaultRecord,
  cutId: string,
  taken: { backupId: string; runId: string; plaintextHash: string },
): string | undefined {
  if (row.backupId !== taken.backupId)
    return `the vault returned backup ${row.backupId}, BackupTaken names ${taken.backupId}`;
  if (row.cutId !== cutId || row.runId !== taken.runId)
    return (
      `backup ${row.backupId} is recorded for cut ${row.cutId} run ${row.runId}, BackupTaken binds it to cut ` +
      `${cutId} run ${taken.runId}`
    );
  if (row.plaintextSha256 !== taken.plaintextHash)
    return (
      `backup ${row.backupId} records plaintext hash ${row.plaintextSha256.slice(0, 12)}…, BackupTaken ` +
      `recorded ${taken.plaintextHash.slice(0, 12)}…`
    );
  return undefined;
}
