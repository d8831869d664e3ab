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

/** One planned key in a backup: the key and the full row, as JSON texts (row null: absent). */
export interface BackupEntry {
  key: string;
  row: string | null;
}

export interface BackupImage {
  /** Pre-image hash (see images.ts): what leg A re-checks under lock, and revert restores to. */
  preImageHash: string;
  /** SHA-256 of the backup's plaintext (the bytes that were encrypted). */
  plaintextHash: string;
  /** Planned keys that exist now. */
  rowCount: number;
  /** Planned keys. */
  entries: number;
  receipt: string;
}

/** Called with each piece of the backup's plaintext, in order (backpressure: awaited). */
export type PlaintextSink = (text: string) => Promise<void>;
export type OnRows = (n: number) => void;

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

export interface LegAResult extends Reconcilable {
  inserted: number;
  updated: number;
  deleted: number;
  digest: string;
}
export interface LegBResult extends Reconcilable {
  ledgerId: string;
  digest: string;
}
export interface VerifyResult extends Reconcilable {
  ok: boolean;
  expectedHash: string;
  actualHash: string;
  mismatches: { key: string; reason: string }[];
}
export interface EnactResult extends Reconcilable {
  skipped: boolean;
  rows: number;
}
export interface RevertResult extends Reconcilable {
  rows: number;
  restoredHash: string;
}

/** Observers the runner may hand a live adapter (tests: src/runner/faults.ts). */
export interface AdapterHooks {
  /** Called inside a phase's transaction after its last write (receipt included), right before COMMIT. */
  beforeCommit?: (phase: string) => void;
}

export interface LiveExecutionAdapter {
  readonly executor: 'postgres-table';
  /** Creates the ledger and receipt tables (idempotent); checks the key has a unique index. */
  prepare(): Promise<void>;
  /** Reads the pre-image of every planned key in one REPEATABLE READ snapshot, streaming its plaintext to `sink`. */
  backup(ctx: PhaseContext, opts?: { sink?: PlaintextSink; onRows?: OnRows }): Promise<BackupImage>;
  writeLegA(ctx: PhaseContext, opts: { preImageHash: string; onRows?: OnRows }): Promise<LegAResult>;
  recordLegB(ctx: PhaseContext, governance: Record<string, unknown>): Promise<LegBResult>;
  verify(ctx: PhaseContext, opts?: { onRows?: OnRows }): Promise<VerifyResult>;
  enactLifecycle(ctx: PhaseContext, opts?: { onRows?: OnRows }): Promise<EnactResult>;
  /**
   * Restores the backup in one transaction. Unless `force`: refused (GovernanceRefused, nothing
   * restored) when the rows drifted since the cut (rows as the plan wrote them, or — `leftAs`, the
   * actual hash a failed verify recorded — as the cut left them, are not drift), when the backup
   * holds a key the plan does not name at that position, or when it would change a column the
   * target does not manage; only the managed columns (content and lifecycle) of rows present now
   * are written.
   */
  revert(
    ctx: PhaseContext,
    backup: { entries: () => AsyncIterable<BackupEntry[]>; preImageHash: string },
    opts: {
      force: boolean;
      leftAs?: string;
      onRows?: OnRows;
      /** Written into the revert's ledger row: the cut stream head and the latest checkpoint. */ anchor?: Record<
        string,
        unknown
      >;
    },
  ): Promise<RevertResult>;
  receipt(runId: string, phase: string): Promise<Receipt | null>;
  close(): Promise<void>;
}

/** The dry run's diff: exact counts, and the first SAMPLES rows of each kind. */
export interface DryRunDiff {
  counts: { inserts: number; updates: number; deletes: number; unchanged: number };
  inserts: Row[];
  updates: { key: Row; changes: { column: string; from: unknown; to: unknown }[] }[];
  deletes: Row[];
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
  simulate(ctx: PhaseContext, opts?: { onRows?: OnRows }): Promise<Simulation>;
  close(): Promise<void>;
}
