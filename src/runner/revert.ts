/**
 * `cutter revert <cut>`: decrypt the backup taken before the cut (private key and passphrase from the
 * keys directory or environment, never logged) and restore the plan's keys in one target
 * transaction, behind the three locks read at call time (resuming an interrupted revert included).
 * The recorded plan is re-hashed first; the backup must be the one BackupTaken bound to the run;
 * only the plan's keys and the target's managed columns are restored. `--dry-run` shows what would
 * be restored and records nothing; `--force` restores even when the rows changed since the cut or
 * the backup reaches beyond the plan.
 */
import { anchorOf } from './anchor.js';
import { memberOf } from '../../events/governance.js';
import { randomUUID } from 'node:crypto';
import { executorFor } from '../adapters/index.js';
import { backupEntries } from '../adapters/backup-format.js';
import type { BackupEntry } from '../adapters/port.js';
import { decryptBackupStream } from '../crypto/backup.js';
import { loadBackupPrivateKey } from '../crypto/backup-keys.js';
import { keysDir } from '../crypto/keys.js';
import { ciphertextOf, loadBackup } from '../store/backups.js';
import { changesOf } from '../cuts/changes.js';
import { lines } from '../store/blobs.js';
import { handleCut, loadCut } from '../cuts/handle.js';
import { BATCH } from '../config/changes.js';
import type { TargetSpec } from '../config/target.js';
import { context, stateName, type CutCommand, type CutState } from '../domain/index.js';
import {
  CutterError,
  GovernanceRefusedError,
  IllegalTransitionError,
  InterruptedError,
  isInterruption,
  VerificationFailedError,
} from '../errors.js';
import type { Session } from '../workspace/session.js';
import { backupHeaderProblem, backupRecordProblem, type BackupBinding } from './checks.js';
import { adapterFaults, armFaults, faultPoint } from './faults.js';
import { withCutLock } from './live.js';
import { locksNow } from './locks.js';
import { plannedTarget, verifiedPlan } from './plan-integrity.js';
import { fieldOf, type CutPlan } from '../../events/index.js';

export interface RevertOutcome {
  cutId: string;
  mode: 'dry-run' | 'live';
  runId?: string;
  state: string;
  restore: number;
  remove: number;
  restoredHash?: string;
}

/**
 * The backup's entries, decrypted and checked as they stream (re-readable): the vault row must be
 * the backup BackupTaken bound to the run (id, cut, run, plaintext hash as recorded in the event),
 * the plaintext must hash to the event's plaintext hash, and its header must name this cut, plan
 * and table. Throws VerificationFailedError otherwise.
 */
interface BackupReader {
  rowCount: number;
  entries: () => AsyncGenerator<BackupEntry[]>;
}

async function backupReader(session: Session, state: CutState, spec: TargetSpec): Promise<BackupReader> {
  const store = await session.store();
  const c = state.snapshot.context;
  const taken = c.backup!;
  const row = await loadBackup(store.db, taken.backupId);
  if (!row) throw new IllegalTransitionError(`backup ${taken.backupId} is not in the store`);
  const bound = backupRecordProblem(row, c.cutId, taken);
  if (bound) throw new VerificationFailedError(`revert of cut ${c.cutId} refused: ${bound}`);
  const key = await loadBackupPrivateKey({ dir: keysDir(session.env), recipients: row.recipients, env: session.env });
  const want = { cutId: c.cutId, planHash: c.planHash, table: spec.table, key: spec.key };
  const onHeader = (h: Partial<BackupBinding>) => {
    const problem = backupHeaderProblem(h, want);
    if (problem) throw new VerificationFailedError(`revert of cut ${c.cutId} refused: ${problem}`);
  };
  return {
    rowCount: row.rowCount,
    entries: async function* () {
      yield* backupEntries(
        lines(decryptBackupStream(ciphertextOf(store.db, row), key, taken.plaintextHash)),
        BATCH,
        onHeader,
      );
    },
  };
}

/**
 * `revert --dry-run` previews; `revert --live` restores, behind the three locks read now (on a
 * fresh revert and on the resume of an interrupted one alike), after re-hashing the recorded plan,
 * from the backup bound to the run, within the plan's keys and the target's managed columns
 * unless `force`. Throws GovernanceRefusedError (a lock, the scope), VerificationFailedError (the
 * plan or the backup is not what was recorded).
 */
export async function revertCut(
  session: Session,
  cutId: string,
  opts: { mode: 'dry-run' | 'live'; force: boolean },
): Promise<RevertOutcome> {
  armFaults();
  const store = await session.store();
  const loaded = await loadCut(store, cutId);
  const { state } = loaded;
  const c = state.snapshot.context;
  if (!c.backup)
    throw new GovernanceRefusedError(`revert of cut ${cutId} refused`, ['no backup was taken: nothing to revert to']);
  const plan = await verifiedPlan(store, loaded.events, state);
  const spec = await plannedTarget(session, loaded.events, state, plan);
  const backup = await backupReader(session, state, spec);
  if (opts.mode === 'dry-run') return { cutId, mode: 'dry-run', state: stateName(state), ...(await preview(backup)) };
  return withCutLock(store, cutId, () => revertLive(session, cutId, plan, spec, backup, opts.force));
}

/** What a revert would do: the whole backup decrypted (proving the key opens it) and counted. */
async function preview(backup: BackupReader): Promise<{ restore: number; remove: number }> {
  let restore = 0;
  let remove = 0;
  for await (const batch of backup.entries()) {
    for (const e of batch) {
      if (e.row === null) remove++;
      else restore++;
    }
  }
  return { restore, remove };
}

/**
 * The live revert, holding the cut's runner lock: start it or take up the interrupted one (all
 * three locks read now), restore in one target transaction (decrypting once, while restoring: the
 * counts come from the backup's record), then record CutReverted — or RevertFailed, unless the
 * connection was lost (then nothing is recorded and the same command resumes).
 */
async function revertLive(
  session: Session,
  cutId: string,
  plan: CutPlan,
  spec: TargetSpec,
  backup: BackupReader,
  requestedForce: boolean,
): Promise<RevertOutcome> {
  const store = await session.store();
  const auth = await session.authority();
  const run = (command: CutCommand | (() => Promise<CutCommand>)) =>
    handleCut(store, cutId, command, auth, { correlationId: cutId });
  const loaded = await loadCut(store, cutId);
  const c = context(loaded.state);
  const { revertId, force } = await startRevert(session, store, auth, loaded, requestedForce, run);
  const leftAs = verifyFailedImage(loaded);
  const adapter = executorFor('live', spec, changesOf(plan, store.db), adapterFaults);
  try {
    await adapter.prepare();
    const r = await adapter.revert(
      { cutId, runId: revertId, planHash: c.planHash },
      { entries: backup.entries, preImageHash: c.backup!.preImageHash },
      { force, ...(leftAs ? { leftAs } : {}), anchor: { ...(await anchorOf(store, cutId)) } },
    );
    faultPoint('after-commit', 'revert');
    const after = await run({
      type: 'RecordRevert',
      at: new Date().toISOString(),
      restoredHash: r.restoredHash,
      rows: r.rows,
      receipt: r.receipt,
      ...(r.reconciled ? { reconciled: true } : {}),
    });
    const restore = backup.rowCount;
    return {
      cutId,
      mode: 'live',
      runId: revertId,
      state: stateName(after.after),
      restore,
      remove: r.rows - restore,
      restoredHash: r.restoredHash,
    };
  } catch (err) {
    return await failRevert(err, run);
  } finally {
    await adapter.close();
  }
}

type RecordCut = (command: CutCommand | (() => Promise<CutCommand>)) => ReturnType<typeof handleCut>;

/**
 * Starts the revert, or takes up the interrupted one, with all three locks read now (the decider
 * says which, and refuses a forced one not signed by an admin). A resumed revert keeps the force its
 * signed RevertStarted recorded.
 */
async function startRevert(
  session: Session,
  store: Awaited<ReturnType<Session['store']>>,
  auth: Awaited<ReturnType<Session['authority']>>,
  loaded: Awaited<ReturnType<typeof loadCut>>,
  requestedForce: boolean,
  run: RecordCut,
): Promise<{ revertId: string; force: boolean }> {
  const force =
    stateName(loaded.state) === 'reverting'
      ? fieldOf([...loaded.events].reverse().find((e) => e.type === 'RevertStarted')?.data, 'force') === true
      : requestedForce;
  const signer = {
    name: auth.signer.name,
    admin: !!memberOf(auth.registry, auth.signer.name)?.roles.includes('admin'),
  };
  const runId = `revert-${randomUUID().slice(0, 8)}`;
  // The locks are read again if the append loses a race (a kill-switch flip).
  const current = (
    await run(async () => {
      const locks = await locksNow(store, session.configFile, session.env);
      const at = new Date().toISOString();
      return { type: 'Revert', runId, at, force, signer, locks: locks.evidence, refusals: locks.closed };
    })
  ).after;
  return { revertId: context(current).runId!, force };
}

/** A revert that threw: interrupted (nothing recorded, the same command resumes) or RevertFailed recorded; rethrows. */
async function failRevert(err: unknown, run: RecordCut): Promise<never> {
  const message = err instanceof Error ? err.message : String(err);
  if (isInterruption(err)) {
    throw new InterruptedError(
      `revert interrupted (${message}); nothing was recorded as failed: run the same command again to resume`,
    );
  }
  const code = err instanceof CutterError ? err.code : 'Internal';
  await run({ type: 'FailRevert', at: new Date().toISOString(), error: { code, message } }).catch(() => undefined);
  throw err;
}

/**
 * A cut whose verify failed (the event the fold accepted) left its rows unlike the plan: the image
 * that verify saw is how the cut left them, not drift.
 */
function verifyFailedImage(loaded: Awaited<ReturnType<typeof loadCut>>): string | undefined {
  const skipped = new Set(loaded.skipped.map((v) => v.version));
  const verifyFailed = [...loaded.events].reverse().find((e) => e.type === 'VerifyFailed' && !skipped.has(e.version));
  return verifyFailed ? String(fieldOf(verifyFailed.data, 'actualHash')) : undefined;
}
