/**
 * The seam between the runner and a target: `LiveExecutionAdapter` (the seed's name) for live runs,
 * `Simulator` for dry runs. They are branded by `executor` and share no methods' signatures, so one
 * cannot stand in for the other (invariant 3, by construction).
 */
export interface PhaseContext {
  cutId: string;
  runId: string;
  planHash: string;
}

export type Row = Record<string, unknown>;
export interface PreImageEntry {
  key: Row;
  row: Row | null;
}

export interface BackupImage {
  preImage: PreImageEntry[];
  preImageHash: string;
  /** Canonical JSON of {cutId, planHash, target, table, key, preImage}: what is encrypted. */
  plaintext: string;
  plaintextHash: string;
  /** Planned keys that exist now. */
  rowCount: number;
  receipt: string;
}

export interface Receipt {
  phase: string;
  digest: string;
  result: Record<string, unknown>;
}

/** A phase result that may come from a receipt written by an earlier, interrupted attempt. */
export interface Reconcilable {
  receipt: string;
  reconciled: boolean;
}

export interface LegAResult extends Reconcilable { inserted: number; updated: number; deleted: number; digest: string }
export interface LegBResult extends Reconcilable { ledgerId: string; digest: string }
export interface VerifyResult extends Reconcilable { ok: boolean; expectedHash: string; actualHash: string; mismatches: { key: string; reason: string }[] }
export interface EnactResult extends Reconcilable { skipped: boolean; rows: number }
export interface RevertResult extends Reconcilable { rows: number; restoredHash: string }

export interface LiveExecutionAdapter {
  readonly executor: 'postgres-table';
  /** Creates the ledger and receipt tables (idempotent); checks the key has a unique index. */
  prepare(): Promise<void>;
  backup(ctx: PhaseContext): Promise<BackupImage>;
  writeLegA(ctx: PhaseContext, opts: { preImageHash: string; onRows?: (n: number) => void }): Promise<LegAResult>;
  recordLegB(ctx: PhaseContext, governance: Record<string, unknown>): Promise<LegBResult>;
  verify(ctx: PhaseContext): Promise<VerifyResult>;
  enactLifecycle(ctx: PhaseContext): Promise<EnactResult>;
  revert(ctx: PhaseContext, backup: { plaintext: string; preImageHash: string }, opts: { force: boolean }): Promise<RevertResult>;
  receipt(runId: string, phase: string): Promise<Receipt | null>;
  close(): Promise<void>;
}

export interface DryRunDiff {
  inserts: Row[];
  updates: { key: Row; changes: { column: string; from: unknown; to: unknown }[] }[];
  deletes: Row[];
  unchanged: Row[];
}

export interface Simulation {
  phases: { phase: 'backup' | 'legA' | 'legB' | 'verify' | 'enact'; digest: string }[];
  diff: DryRunDiff;
  expectedPostImageHash: string;
  nonMutation: { preImageHashBefore: string; preImageHashAfter: string };
}

export interface Simulator {
  readonly executor: 'simulator';
  precheck(): Promise<{ preImageHash: string; existing: number; absent: number }>;
  simulate(ctx: PhaseContext): Promise<Simulation>;
  /** What a revert would restore, read-only. */
  previewRevert(backup: { plaintext: string }): Promise<{ restore: number; remove: number }>;
  close(): Promise<void>;
}
