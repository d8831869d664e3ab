/** Field shapes shared by the event families. Times are ISO-8601 strings; hashes lower-case hex. */
import { z } from 'zod';

export const Iso = z.string().datetime({ offset: true });
export const Hash = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hex digest');
export const Id = z.string().min(1).max(200);
export const Phase = z.enum(['backup', 'legA', 'legB', 'verify', 'enact']);
export type Phase = z.infer<typeof Phase>;

/**
 * The five live phases, in order, with the name an operator and the report give each gate and the
 * event that records it.
 */
export const PHASE_GATES = {
  backup: { gate: 'pre_write_backup', event: 'BackupTaken' },
  legA: { gate: 'cut_leg_a', event: 'LegAWritten' },
  legB: { gate: 'leg_b_record', event: 'LegBRecorded' },
  verify: { gate: 'write_verify', event: 'WriteVerified' },
  enact: { gate: 'lifecycle_enact', event: 'LifecycleEnacted' },
} as const satisfies Record<Phase, { gate: string; event: string }>;
/** Names the executor of a run: the simulator for dry runs, a live adapter for live runs (invariant 3). */
export const LIVE_EXECUTOR = 'postgres-table' as const;
export const SIM_EXECUTOR = 'simulator' as const;
export const LiveExecutor = z.literal(LIVE_EXECUTOR);
export const SimExecutor = z.literal(SIM_EXECUTOR);

export const LockEvidence = z.strictObject({
  config: z.boolean(),
  env: z.boolean(),
  killSwitch: z.boolean(),
  killSwitchVersion: z.number().int().min(0),
});
export type LockEvidence = z.infer<typeof LockEvidence>;

/** What the runner checked at call time, recorded so replay can re-check it. */
export const LiveEvidence = z.strictObject({
  at: Iso,
  locks: LockEvidence,
  /** Approvers whose signatures were verified against the configured keys at call time. */
  approvals: z.array(z.string()),
  /** The governance version the approvals were checked under. */
  governance: z.number().int().min(1).optional(),
  dryRunId: z.string().optional(),
});
export type LiveEvidence = z.infer<typeof LiveEvidence>;

export const Policy = z.strictObject({
  requiredApprovals: z.number().int().min(1),
  approvalTtlSeconds: z.number().int().positive(),
  requireDryRun: z.boolean(),
  maxRows: z.number().int().positive(),
  roles: z.array(z.string()).optional(),
});
export type Policy = z.infer<typeof Policy>;
