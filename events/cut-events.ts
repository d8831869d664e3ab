/**
 * The cut's events, one zod schema each, past tense. `data` shapes only; the envelope (type,
 * schema version, metadata) is in events/index.ts.
 */
import { z } from 'zod';
import { ChangeSet, CUT_ID_PATTERN } from './plan.js';
import { PublicKeyText } from './governance.js';
import { Hash, Id, Iso, LiveEvidence, LiveExecutor, LockEvidence, Phase, Policy, SimExecutor } from './common.js';

const RunRef = { runId: Id, planHash: Hash, at: Iso };
const Receipt = z.string().min(1);

/**
 * The plan as recorded: validated in full (events/plan.ts) when it was planned, and bound by its
 * hash; here each change is only checked to be an object, because every fold re-reads it and a
 * 100,000-row plan must not be deep-validated at every phase. Replay re-checks the hash.
 */
export const RecordedPlan = z
  .strictObject({
    id: z.string().regex(CUT_ID_PATTERN),
    target: z.string().min(1),
    author: z.string().min(1),
    reason: z.string().min(1),
    changes: z.array(z.record(z.string(), z.unknown())).min(1).optional(),
    changeSet: ChangeSet.optional(),
  })
  .refine((p) => (p.changes === undefined) !== (p.changeSet === undefined), {
    message: 'exactly one of changes and changeSet',
    path: ['changes'],
  });

export const CutPlanned = z.strictObject({
  cutId: Id,
  plan: RecordedPlan,
  planHash: Hash,
  target: z.string(),
  table: z.string(),
  /**
   * The rest of the target's definition the plan was checked against (absent on cuts planned before
   * it was recorded): key and content columns, and what the enact phase sets. With `table`, what the
   * approvals approve: a run refuses a configured target that differs (src/runner/checks.ts). The
   * database URL is a secret and is never recorded.
   */
  definition: z
    .strictObject({
      key: z.array(z.string()).min(1),
      columns: z.array(z.string()),
      lifecycle: z.strictObject({ column: z.string(), value: z.string() }).nullable(),
    })
    .optional(),
  author: z.string(),
  /** The author's enrolled public key (absent before governance). */
  authorKey: PublicKeyText.optional(),
  reason: z.string(),
  rowCount: z.number().int().min(0),
  policy: Policy,
  precheck: z.strictObject({ preImageHash: Hash, existing: z.number().int(), absent: z.number().int() }),
  at: Iso,
});

export const ApprovalGranted = z.strictObject({
  cutId: Id,
  planHash: Hash,
  approver: z.string(),
  roles: z.array(z.string()),
  decision: z.literal('approve'),
  at: Iso,
  signature: z.string().min(1),
  publicKey: PublicKeyText,
  /** The governance version the approver was enrolled under; signed with the rest (absent before governance). */
  governanceVersion: z.number().int().min(1).optional(),
});
/** Schema version 1 of ApprovalGranted had one `role`; upcast to `roles`. */
export const ApprovalGrantedV1 = ApprovalGranted.omit({ roles: true }).extend({ role: z.string() });

export const CutAborted = z.strictObject({ planHash: Hash, reason: z.string(), at: Iso });

export const DryRunStarted = z.strictObject({ ...RunRef, executor: SimExecutor });
export const PhaseSimulated = z.strictObject({ ...RunRef, executor: SimExecutor, phase: Phase, digest: Hash });
export const DryRunCompleted = z.strictObject({
  ...RunRef,
  executor: SimExecutor,
  passed: z.boolean(),
  diff: z.strictObject({
    inserts: z.number().int(),
    updates: z.number().int(),
    deletes: z.number().int(),
    unchanged: z.number().int(),
  }),
  expectedPostImageHash: Hash,
  nonMutation: z.strictObject({ preImageHashBefore: Hash, preImageHashAfter: Hash }),
});

export const LiveRunStarted = z.strictObject({ ...RunRef, executor: LiveExecutor, evidence: LiveEvidence });
const Reconciled = { reconciled: z.boolean().optional() };
export const BackupTaken = z.strictObject({
  ...RunRef,
  executor: LiveExecutor,
  ...Reconciled,
  backupId: z.string(),
  plaintextHash: Hash,
  preImageHash: Hash,
  rowCount: z.number().int(),
  recipients: z.array(z.string()),
  receipt: Receipt,
});
export const LegAWritten = z.strictObject({
  ...RunRef,
  executor: LiveExecutor,
  ...Reconciled,
  inserted: z.number().int(),
  updated: z.number().int(),
  deleted: z.number().int(),
  digest: Hash,
  receipt: Receipt,
});
export const LegBRecorded = z.strictObject({
  ...RunRef,
  executor: LiveExecutor,
  ...Reconciled,
  ledgerId: z.string(),
  digest: Hash,
  receipt: Receipt,
});
export const WriteVerified = z.strictObject({
  ...RunRef,
  executor: LiveExecutor,
  ...Reconciled,
  expectedHash: Hash,
  actualHash: Hash,
  receipt: Receipt,
});
export const VerifyFailed = z.strictObject({
  ...RunRef,
  executor: LiveExecutor,
  expectedHash: Hash,
  actualHash: Hash,
  mismatches: z.array(z.strictObject({ key: z.string(), reason: z.string() })),
});
export const LifecycleEnacted = z.strictObject({
  ...RunRef,
  executor: LiveExecutor,
  ...Reconciled,
  skipped: z.boolean(),
  rows: z.number().int(),
  receipt: Receipt,
});
export const PhaseFailed = z.strictObject({
  ...RunRef,
  executor: LiveExecutor,
  phase: Phase,
  error: z.strictObject({ code: z.string(), message: z.string() }),
});
export const RunHalted = z.strictObject({
  ...RunRef,
  executor: LiveExecutor,
  phase: Phase,
  reason: z.string(),
  locks: LockEvidence,
});
export const RunResumed = z.strictObject({ ...RunRef, executor: LiveExecutor, evidence: LiveEvidence });
/**
 * A live run or revert interrupted by a crash or a lost connection, taken up again: the call-time
 * evidence (all three locks, approvals against governance now) recorded before anything else is
 * written. Changes no state: the run goes on at the phase it stopped at.
 */
export const RunContinued = z.strictObject({ ...RunRef, executor: LiveExecutor, evidence: LiveEvidence });

export const RevertStarted = z.strictObject({
  ...RunRef,
  executor: LiveExecutor,
  backupId: z.string(),
  force: z.boolean(),
  evidence: z.strictObject({ at: Iso, locks: LockEvidence }),
});
export const CutReverted = z.strictObject({
  ...RunRef,
  executor: LiveExecutor,
  ...Reconciled,
  restoredHash: Hash,
  backupPreImageHash: Hash,
  rows: z.number().int(),
  receipt: Receipt,
});
export const RevertFailed = z.strictObject({
  ...RunRef,
  executor: LiveExecutor,
  error: z.strictObject({ code: z.string(), message: z.string() }),
});

export const KillSwitchEngaged = z.strictObject({ reason: z.string().min(1), at: Iso });
export const KillSwitchReleased = z.strictObject({ at: Iso });
