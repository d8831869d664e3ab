/**
 * `cutter run <cut> --live`: evaluates the locks and approvals at call time, records the evidence
 * (LiveRunStarted, or RunResumed after a halt), then runs the remaining phases in fixed order, one
 * target transaction each, re-reading all three locks before every phase (lock 1 from the config
 * file on disk) and halting at the boundary when one closed. The recorded plan is re-hashed
 * first. A run killed at any point is resumed by running the same command (locks and approvals,
 * expiry included, re-checked first): the adapter's receipts say whether a phase already
 * committed (its event is then appended, marked reconciled), so no phase applies twice.
 * One runner per cut (a session advisory lock in the store); one live cut per target (the
 * active-run projection's primary key, inside the append's transaction).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { executorFor, type LiveExecutionAdapter } from '../adapters/index.js';
import type { BackupImage, PhaseContext } from '../adapters/port.js';
import { encryptionStream, recipientKeys } from '../crypto/backup.js';
import { backupIdFor, loadBackup, recordBackup } from '../store/backups.js';
import { changesOf } from '../cuts/changes.js';
import { changeCount } from '../../events/plan.js';
import { putBlob } from '../store/blobs.js';
import { handleCut, loadCut } from '../cuts/handle.js';
import type { Handled } from '../commands/handle.js';
import {
  context,
  nextLivePhase,
  stateName,
  type CutCommand,
  type CutState,
  type PhaseOutcome,
} from '../domain/index.js';
import {
  CutterError,
  GovernanceRefusedError,
  InterruptedError,
  isInterruption,
  VerificationFailedError,
  InvalidInputError,
} from '../errors.js';
import { sql } from '../store/connection.js';
import type { EventStore } from '../store/index.js';
import type { Session } from '../workspace/session.js';
import { anchorOf } from './anchor.js';
import { gatherEvidence } from './evidence.js';
import { adapterFaults, armFaults, faultPoint } from './faults.js';
import { locksNow, type LockCheck } from './locks.js';
import { plannedTarget, verifiedPlan } from './plan-integrity.js';
import { silentProgress, type Progress } from './progress.js';
import { PHASE_GATES, type Phase } from '../../events/index.js';

export interface LiveRunResult {
  cutId: string;
  runId: string;
  state: string;
  phases: { phase: string; reconciled: boolean; detail: Record<string, unknown> }[];
  halted?: { phase: string; reason: string };
}

const now = () => new Date().toISOString();

/** Holds a session-level advisory lock on the cut for the duration of `fn` (one runner per cut). */
export async function withCutLock<T>(store: EventStore, cutId: string, fn: () => Promise<T>): Promise<T> {
  return store.db.task(async (conn) => {
    const key = `cutter.cut:${cutId}`;
    const [row] = await conn.query(sql`SELECT pg_try_advisory_lock(hashtextextended(${key}, 0)) AS ok`);
    if (!row?.ok) throw new GovernanceRefusedError(`cut ${cutId} is being run by another runner`);
    try {
      return await fn();
    } finally {
      // A lost connection took its session lock with it: nothing left to release.
      await conn.query(sql`SELECT pg_advisory_unlock(hashtextextended(${key}, 0))`).catch(() => undefined);
    }
  });
}

export interface LiveRunOptions {
  progress?: Progress;
  /** Awaited at each phase boundary, before the kill-switch is read (observers, tests, the demo). */
  atBoundary?: (phase: string) => Promise<void>;
}

/**
 * Runs (or resumes) the cut's live run to its end, a halt or a failure. One runner per cut (a
 * session advisory lock); every event signed by the session's member and appended through the cut's
 * command handler. Each phase is one target transaction, then one append.
 * Throws GovernanceRefusedError when a lock is closed, approvals do not hold under the governance in
 * force, or the target is busy (nothing written); VerificationFailedError when the recorded plan or
 * change set does not hash to what was approved (nothing written); InterruptedError when the store or
 * the target connection is lost (resumable: run the same command again).
 */
export async function runLive(session: Session, cutId: string, opts: LiveRunOptions = {}): Promise<LiveRunResult> {
  armFaults();
  const store = await session.store();
  return withCutLock(store, cutId, async () => {
    const loaded = await loadCut(store, cutId);
    const plan = await verifiedPlan(store, loaded.events, loaded.state);
    const spec = await plannedTarget(session, loaded.events, loaded.state, plan);
    const auth = await session.authority();
    const run: LiveRun = {
      session,
      store,
      cutId,
      rows: changeCount(plan),
      progress: opts.progress ?? silentProgress,
      record: (command) => handleCut(store, cutId, command, auth, { correlationId: cutId }),
    };
    // Bad input is refused before LiveRunStarted: the backup phase would record it as a failure,
    // which ends the cut (its approvals and dry run lost). Not needed once the backup is stored.
    if (!loaded.state.snapshot.context.backup) await backupRecipients(session);
    // Start, resume after a halt, or continue after a crash (the decider says which): the locks
    // must be open now and the approvals still satisfy the policy now, expiry included, before
    // anything else is written. Read again if the append loses a race (a kill-switch flip).
    const runId = `live-${randomUUID().slice(0, 8)}`;
    const started = await run.record(async (current) => {
      const at = now();
      const { evidence, reasons } = await gatherEvidence(
        store,
        session.configFile,
        session.env,
        current,
        at,
        auth.governance,
      );
      return { type: 'RunLive', runId, at, evidence, refusals: reasons };
    });
    const adapter = executorFor('live', spec, changesOf(plan, store.db), adapterFaults);
    try {
      await adapter.prepare();
      return await runPhases(run, adapter, started.after, opts.atBoundary);
    } finally {
      run.progress.done();
      await adapter.close();
    }
  });
}

/** What the phases of one live run share. */
interface LiveRun {
  session: Session;
  store: EventStore;
  cutId: string;
  /** The plan's change count (progress). */
  rows: number;
  progress: Progress;
  /** The cut's command handler, signed by the session's member. */
  record: (command: CutCommand | ((state: CutState) => Promise<CutCommand>)) => Promise<Handled<CutState>>;
}

/**
 * The remaining phases in order from `state`, each behind all three locks read again (halting at
 * the boundary when one closed), each one target transaction, then its event. Throws
 * VerificationFailedError after recording a failed verify.
 */
async function runPhases(
  run: LiveRun,
  adapter: LiveExecutionAdapter,
  from: CutState,
  atBoundary: LiveRunOptions['atBoundary'],
): Promise<LiveRunResult> {
  let state = from;
  const result: LiveRunResult = { cutId: run.cutId, runId: context(state).runId!, state: '', phases: [] };
  for (let phase = nextLivePhase(state); phase; phase = nextLivePhase(state)) {
    await atBoundary?.(phase);
    // All three locks, read again before every phase: lock 1 from the config file on disk,
    // lock 2 from the environment, lock 3 from the kill-switch stream.
    const locks = await locksNow(run.store, run.session.configFile, run.session.env);
    if (locks.closed.length > 0) {
      const reason = haltReason(locks);
      state = (await run.record({ type: 'HaltRun', phase, at: now(), reason, locks: locks.evidence })).after;
      result.halted = { phase, reason };
      break;
    }
    const outcome = await phaseOutcome(run, adapter, phase, state);
    // The phase committed (or found its receipt); its event is not appended yet.
    faultPoint('after-commit', phase);
    const recorded = await run.record({ type: 'RecordPhase', at: now(), ...outcome });
    state = recorded.after;
    const d = recorded.events[0]!.data as Record<string, unknown>;
    result.phases.push({ phase, reconciled: d.reconciled === true, detail: d });
    if (outcome.phase === 'verify' && !outcome.result.ok) {
      throw new VerificationFailedError(
        `write verify failed for cut ${run.cutId}: ${outcome.result.mismatches.length} mismatching row(s)`,
        { mismatches: outcome.result.mismatches.slice(0, 10) },
      );
    }
  }
  result.state = stateName(state);
  return result;
}

/**
 * Runs one phase's target transaction. A lost connection is no verdict on the cut (the
 * transaction rolled back, or committed with its receipt): nothing is recorded, so the same command
 * resumes (found by the crash campaign). Any other error is recorded as PhaseFailed and rethrown.
 */
async function phaseOutcome(
  run: LiveRun,
  adapter: LiveExecutionAdapter,
  phase: Phase,
  state: CutState,
): Promise<PhaseOutcome> {
  try {
    return await runPhase(phase, adapter, state, run);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (isInterruption(err)) {
      throw new InterruptedError(
        `${phase} interrupted (${message}); nothing was recorded as failed: run the same command again to resume`,
      );
    }
    const code = err instanceof CutterError ? err.code : 'Internal';
    await run.record({ type: 'FailPhase', phase, at: now(), error: { code, message } });
    throw err;
  }
}

/** Why a run halts: the kill-switch's own words, and each other closed lock. */
function haltReason(locks: LockCheck): string {
  const parts = locks.closed.filter((r) => !r.startsWith('lock 3'));
  if (locks.killSwitchReason !== undefined)
    parts.unshift(`kill-switch engaged${locks.killSwitchReason ? `: ${locks.killSwitchReason}` : ''}`);
  return parts.join('; ');
}

/** One phase of a live run, through the adapter, its progress shown; the outcome the run records. */
async function runPhase(
  phase: Phase,
  adapter: LiveExecutionAdapter,
  state: CutState,
  run: LiveRun,
): Promise<PhaseOutcome> {
  const c = context(state);
  const ctx = { cutId: c.cutId, runId: c.runId!, planHash: c.planHash };
  switch (phase) {
    case 'backup':
      run.progress.phase(PHASE_GATES.backup.gate, run.rows);
      return { phase, result: await takeBackup(run, adapter, ctx) };
    case 'legA':
      return { phase, result: await writeLegA(run, adapter, ctx, c.backup!.preImageHash) };
    case 'legB':
      return { phase, result: await recordLegB(run, adapter, ctx, state) };
    case 'verify':
      return { phase, result: await verifyWrite(run, adapter, ctx) };
    case 'enact':
      return { phase, result: await enactLifecycle(run, adapter, ctx) };
    default:
      throw new Error(`unknown phase ${phase}`);
  }
}

type ResultOf<P extends Phase> = Extract<PhaseOutcome, { phase: P }>['result'];

/** Leg A: the planned changes written to the target, checked against the backup's pre-image. */
async function writeLegA(
  run: LiveRun,
  adapter: LiveExecutionAdapter,
  ctx: PhaseContext,
  preImageHash: string,
): Promise<ResultOf<'legA'>> {
  const { progress } = run;
  progress.phase(PHASE_GATES.legA.gate, run.rows);
  const r = await adapter.writeLegA(ctx, { preImageHash, onRows: (n) => progress.tick(n) });
  return {
    inserted: r.inserted,
    updated: r.updated,
    deleted: r.deleted,
    digest: r.digest,
    receipt: r.receipt,
    ...(r.reconciled ? { reconciled: true } : {}),
  };
}

/** Leg B: the governance record (approvals, backup, anchor) written to the target's ledger. */
async function recordLegB(
  run: LiveRun,
  adapter: LiveExecutionAdapter,
  ctx: PhaseContext,
  state: CutState,
): Promise<ResultOf<'legB'>> {
  const c = context(state);
  run.progress.phase(PHASE_GATES.legB.gate, 1);
  const governance = {
    cutId: ctx.cutId,
    planHash: ctx.planHash,
    runId: ctx.runId,
    approvals: c.approvals.map((a) => ({
      approver: a.approver,
      roles: a.roles,
      at: a.at,
      signature: a.signature,
      publicKey: a.publicKey,
      governanceVersion: a.governanceVersion,
    })),
    backupId: c.backup?.backupId,
    ...(await anchorOf(run.store, ctx.cutId)),
  };
  const r = await adapter.recordLegB(ctx, governance);
  run.progress.tick(1);
  return {
    ledgerId: r.ledgerId,
    digest: r.digest,
    receipt: r.receipt,
    ...(r.reconciled ? { reconciled: true } : {}),
  };
}

/** Verify: the adapter's check of what the cut wrote (a mismatch is an outcome the run records, not an error). */
async function verifyWrite(
  run: LiveRun,
  adapter: LiveExecutionAdapter,
  ctx: PhaseContext,
): Promise<ResultOf<'verify'>> {
  const { progress } = run;
  progress.phase(PHASE_GATES.verify.gate, run.rows);
  const r = await adapter.verify(ctx, { onRows: (n) => progress.tick(n) });
  if (!r.ok) return { ok: false, expectedHash: r.expectedHash, actualHash: r.actualHash, mismatches: r.mismatches };
  return {
    ok: true,
    expectedHash: r.expectedHash,
    actualHash: r.actualHash,
    receipt: r.receipt,
    ...(r.reconciled ? { reconciled: true } : {}),
  };
}

/** Enact: the adapter's lifecycle step, its rows counted (or skipped). */
async function enactLifecycle(
  run: LiveRun,
  adapter: LiveExecutionAdapter,
  ctx: PhaseContext,
): Promise<ResultOf<'enact'>> {
  const { progress } = run;
  progress.phase(PHASE_GATES.enact.gate, run.rows);
  const r = await adapter.enactLifecycle(ctx, { onRows: (n) => progress.tick(n) });
  return {
    skipped: r.skipped,
    rows: r.rows,
    receipt: r.receipt,
    ...(r.reconciled ? { reconciled: true } : {}),
  };
}

/**
 * The pre-write backup: the planned rows read in one snapshot, streamed through OpenPGP into blob
 * chunks, the backup row and its blob committed together. A run that died after storing its backup
 * re-reads the rows instead and proves they did not change (else drift, GovernanceRefused).
 */
async function takeBackup(
  run: LiveRun,
  adapter: LiveExecutionAdapter,
  ctx: { cutId: string; runId: string; planHash: string },
): Promise<Extract<PhaseOutcome, { phase: 'backup' }>['result']> {
  const { store, session, progress } = run;
  const backupId = backupIdFor(ctx.cutId, ctx.runId);
  const existing = await loadBackup(store.db, backupId);
  const onRows = (n: number) => progress.tick(n);
  let image: BackupImage;
  let recipients: string[];
  if (existing) {
    image = await adapter.backup(ctx, { onRows });
    if (existing.plaintextSha256 !== image.plaintextHash)
      throw new GovernanceRefusedError(`drift: the rows changed since backup ${backupId} was stored`);
    recipients = existing.recipients;
  } else {
    const enc = await encryptionStream(await backupRecipients(session));
    recipients = enc.recipients;
    image = await store.db.tx(async (tx) => {
      const blob = putBlob(tx, backupId, enc.output);
      blob.catch((err: unknown) => enc.abort(err));
      let taken: BackupImage;
      try {
        taken = await adapter.backup(ctx, { sink: (text) => enc.write(text), onRows });
        await enc.end();
      } catch (err) {
        await enc.abort(err);
        await blob.catch(() => undefined);
        throw err;
      }
      await blob;
      await recordBackup(tx, {
        backupId,
        cutId: ctx.cutId,
        runId: ctx.runId,
        plaintextSha256: taken.plaintextHash,
        rowCount: taken.rowCount,
        recipients,
        blobId: backupId,
      });
      faultPoint('before-commit', 'backup');
      return taken;
    });
  }
  return {
    backupId,
    plaintextHash: image.plaintextHash,
    preImageHash: image.preImageHash,
    rowCount: image.rowCount,
    recipients,
    receipt: image.receipt,
    ...(existing ? { reconciled: true } : {}),
  };
}

/**
 * The backup's recipient keys (armored text) as the config names them, each read and parsed:
 * InvalidInputError (exit 2) naming the `backup.recipients` entry that cannot be read or is not a key.
 */
async function backupRecipients(session: Session): Promise<string[]> {
  const root = path.dirname(session.configFile);
  const keys = session.config().backup.recipients.map((f, i) => {
    try {
      return readFileSync(path.resolve(root, f), 'utf8');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new InvalidInputError(`backup.recipients[${i}]: cannot read ${f} (${why})`);
    }
  });
  await recipientKeys(keys);
  return keys;
}
