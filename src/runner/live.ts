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
import type { BackupImage } from '../adapters/port.js';
import { encryptionStream } from '../crypto/backup.js';
import { backupIdFor, loadBackup, recordBackup } from '../crypto/vault.js';
import { changesOf } from '../cuts/changes.js';
import { changeCount } from '../../events/plan.js';
import { putBlob } from '../store/blobs.js';
import { handleCut, loadCut } from '../cuts/handle.js';
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
} from '../errors.js';
import { sql } from '../store/connection.js';
import type { EventStore } from '../store/index.js';
import type { Session } from '../workspace/session.js';
import { anchorOf } from './anchor.js';
import { gatherEvidence } from './evidence.js';
import { adapterFaults, armFaults, faultPoint } from './faults.js';
import { locksNow, type LockCheck } from './locks.js';
import { verifiedPlan } from './plan-integrity.js';
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
  const progress = opts.progress ?? silentProgress;
  armFaults();
  const store = await session.store();
  return withCutLock(store, cutId, async () => {
    const loaded = await loadCut(store, cutId);
    let state = loaded.state;
    const plan = await verifiedPlan(store, loaded.events, state);
    const spec = await session.target(plan.target);
    const auth = await session.authority();
    const run = (command: CutCommand | ((state: CutState) => Promise<CutCommand>)) =>
      handleCut(store, cutId, command, auth, { correlationId: cutId });
    const runId = `live-${randomUUID().slice(0, 8)}`;
    // Start, resume after a halt, or continue after a crash (the decider says which): the locks
    // must be open now and the approvals still satisfy the policy now, expiry included, before
    // anything else is written. Read again if the append loses a race (a kill-switch flip).
    state = (
      await run(async (current) => {
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
      })
    ).after;

    const adapter = executorFor('live', spec, changesOf(plan, store.db), adapterFaults);
    const result: LiveRunResult = { cutId, runId: state.snapshot.context.runId!, state: stateName(state), phases: [] };
    try {
      await adapter.prepare();
      for (let phase = nextLivePhase(state); phase; phase = nextLivePhase(state)) {
        await opts.atBoundary?.(phase);
        // All three locks, read again before every phase: lock 1 from the config file on disk,
        // lock 2 from the environment, lock 3 from the kill-switch stream.
        const locks = await locksNow(store, session.configFile, session.env);
        if (locks.closed.length > 0) {
          const reason = haltReason(locks);
          state = (await run({ type: 'HaltRun', phase, at: now(), reason, locks: locks.evidence })).after;
          result.halted = { phase, reason };
          break;
        }
        let outcome: PhaseOutcome;
        try {
          outcome = await runPhase(phase, adapter, state, session, store, changeCount(plan), progress);
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          if (isInterruption(err)) {
            // Not a verdict on the cut: the phase's transaction rolled back, or committed with its
            // receipt. Record nothing, so the same command resumes (found by the crash campaign).
            throw new InterruptedError(
              `${phase} interrupted (${message}); nothing was recorded as failed: run the same command again to resume`,
            );
          }
          const code = err instanceof CutterError ? err.code : 'Internal';
          await run({ type: 'FailPhase', phase, at: now(), error: { code, message } });
          throw err;
        }
        // The phase committed (or found its receipt); its event is not appended yet.
        faultPoint('after-commit', phase);
        const recorded = await run({ type: 'RecordPhase', at: now(), ...outcome });
        state = recorded.after;
        const event = recorded.events[0]!;
        const d = event.data as Record<string, unknown>;
        result.phases.push({ phase, reconciled: d.reconciled === true, detail: d });
        if (outcome.phase === 'verify' && !outcome.result.ok) {
          result.state = stateName(state);
          throw new VerificationFailedError(
            `write verify failed for cut ${cutId}: ${outcome.result.mismatches.length} mismatching row(s)`,
            { mismatches: outcome.result.mismatches.slice(0, 10) },
          );
        }
      }
    } finally {
      progress.done();
      await adapter.close();
    }
    result.state = stateName(state);
    return result;
  });
}

/** Why a run halts: the kill-switch's own words, and each other closed lock. */
function haltReason(locks: LockCheck): string {
  const parts = locks.closed.filter((r) => !r.startsWith('lock 3'));
  if (locks.killSwitchReason !== undefined)
    parts.unshift(`kill-switch engaged${locks.killSwitchReason ? `: ${locks.killSwitchReason}` : ''}`);
  return parts.join('; ');
}

async function runPhase(
  phase: Phase,
  adapter: LiveExecutionAdapter,
  state: CutState,
  session: Session,
  store: EventStore,
  rows: number,
  progress: Progress,
): Promise<PhaseOutcome> {
  const c = context(state);
  const ctx = { cutId: c.cutId, runId: c.runId!, planHash: c.planHash };
  switch (phase) {
    case 'backup': {
      progress.phase(PHASE_GATES.backup.gate, rows);
      const backupId = backupIdFor(ctx.cutId, ctx.runId);
      const existing = await loadBackup(store.db, backupId);
      const onRows = (n: number) => progress.tick(n);
      let image: BackupImage;
      let recipients: string[];
      if (existing) {
        // A run that died after storing its backup: re-read the rows and prove they did not change.
        image = await adapter.backup(ctx, { onRows });
        if (existing.plaintextSha256 !== image.plaintextHash)
          throw new GovernanceRefusedError(`drift: the rows changed since backup ${backupId} was stored`);
        recipients = existing.recipients;
      } else {
        const root = path.dirname(session.configFile);
        const keys = session.config().backup.recipients.map((f) => readFileSync(path.resolve(root, f), 'utf8'));
        const enc = await encryptionStream(keys);
        recipients = enc.recipients;
        // Rows stream from the target through OpenPGP into blob chunks; the backup row and its blob
        // commit together, after the whole pre-image was read in one snapshot.
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
        phase,
        result: {
          backupId,
          plaintextHash: image.plaintextHash,
          preImageHash: image.preImageHash,
          rowCount: image.rowCount,
          recipients,
          receipt: image.receipt,
          ...(existing ? { reconciled: true } : {}),
        },
      };
    }
    case 'legA': {
      progress.phase(PHASE_GATES.legA.gate, rows);
      const r = await adapter.writeLegA(ctx, { preImageHash: c.backup!.preImageHash, onRows: (n) => progress.tick(n) });
      return {
        phase,
        result: {
          inserted: r.inserted,
          updated: r.updated,
          deleted: r.deleted,
          digest: r.digest,
          receipt: r.receipt,
          ...(r.reconciled ? { reconciled: true } : {}),
        },
      };
    }
    case 'legB': {
      progress.phase(PHASE_GATES.legB.gate, 1);
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
        ...(await anchorOf(store, ctx.cutId)),
      };
      const r = await adapter.recordLegB(ctx, governance);
      progress.tick(1);
      return {
        phase,
        result: {
          ledgerId: r.ledgerId,
          digest: r.digest,
          receipt: r.receipt,
          ...(r.reconciled ? { reconciled: true } : {}),
        },
      };
    }
    case 'verify': {
      progress.phase(PHASE_GATES.verify.gate, rows);
      const r = await adapter.verify(ctx, { onRows: (n) => progress.tick(n) });
      if (!r.ok)
        return {
          phase,
          result: { ok: false, expectedHash: r.expectedHash, actualHash: r.actualHash, mismatches: r.mismatches },
        };
      return {
        phase,
        result: {
          ok: true,
          expectedHash: r.expectedHash,
          actualHash: r.actualHash,
          receipt: r.receipt,
          ...(r.reconciled ? { reconciled: true } : {}),
        },
      };
    }
    case 'enact': {
      progress.phase(PHASE_GATES.enact.gate, rows);
      const r = await adapter.enactLifecycle(ctx, { onRows: (n) => progress.tick(n) });
      return {
        phase,
        result: {
          skipped: r.skipped,
          rows: r.rows,
          receipt: r.receipt,
          ...(r.reconciled ? { reconciled: true } : {}),
        },
      };
    }
    default:
      throw new Error(`unknown phase ${phase}`);
  }
}
