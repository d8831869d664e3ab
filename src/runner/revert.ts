/**
 * `cutter revert <cut>`: decrypt the backup taken before the cut (private key and passphrase from the
 * keys directory or environment, never logged) and restore the pre-image exactly in one target
 * transaction, behind the same three locks. `--dry-run` shows what would be restored and records
 * nothing; `--force` restores even when the rows changed since the cut.
 */
import { randomUUID } from 'node:crypto';
import { executorFor } from '../adapters/index.js';
import { backupEntries } from '../adapters/backup-format.js';
import type { BackupEntry } from '../adapters/port.js';
import { decryptBackupStream } from '../crypto/backup.js';
import { keysDir, loadBackupPrivateKey } from '../crypto/keys.js';
import { ciphertextOf, loadBackup } from '../crypto/vault.js';
import { changesOf } from '../cuts/changes.js';
import { lines } from '../store/blobs.js';
import { handle, loadCut } from '../cuts/handle.js';
import { stateName } from '../domain/index.js';
import { CutterError, GovernanceRefusedError, IllegalTransitionError, InterruptedError, isInterruption } from '../errors.js';
import type { Session } from '../workspace/session.js';
import { planOf } from './dry-run.js';
import { withCutLock } from './live.js';
import { evaluateLocks } from './locks.js';

export interface RevertOutcome {
  cutId: string;
  mode: 'dry-run' | 'live';
  runId?: string;
  state: string;
  restore: number;
  remove: number;
  restoredHash?: string;
}

/** The backup's entries, decrypted and hash-checked as they stream (re-readable). */
async function backupReader(session: Session, backupId: string): Promise<{ rowCount: number; entries: () => AsyncGenerator<BackupEntry[]> }> {
  const store = await session.store();
  const row = await loadBackup(store.db, backupId);
  if (!row) throw new IllegalTransitionError(`backup ${backupId} is not in the store`);
  const key = await loadBackupPrivateKey({ dir: keysDir(session.env), recipients: row.recipients, env: session.env });
  return {
    rowCount: row.rowCount,
    entries: async function* () {
      yield* backupEntries(lines(decryptBackupStream(ciphertextOf(store.db, row), key, row.plaintextSha256)));
    },
  };
}

export async function revertCut(session: Session, cutId: string, opts: { mode: 'dry-run' | 'live'; force: boolean }): Promise<RevertOutcome> {
  const store = await session.store();
  const { state } = await loadCut(store, cutId);
  const c = state.snapshot.context;
  if (!c.backup) throw new GovernanceRefusedError(`revert of cut ${cutId} refused`, ['no backup was taken: nothing to revert to']);
  const plan = planOf(await store.readStream(`cut-${cutId}`));
  const spec = await session.target(plan.target);
  const { rowCount, entries } = await backupReader(session, c.backup.backupId);
  if (opts.mode === 'dry-run') {
    // The preview decrypts the whole backup (proving the key opens it) and counts what it holds.
    let restore = 0;
    let remove = 0;
    for await (const batch of entries()) {
      for (const e of batch) {
        if (e.row === null) remove++;
        else restore++;
      }
    }
    return { cutId, mode: 'dry-run', state: stateName(state), restore, remove };
  }
  // A live revert decrypts once, while restoring: the counts come from the backup's record.
  const restore = rowCount;

  return withCutLock(store, cutId, async () => {
    const meta = { actor: session.actor, correlationId: cutId, auth: await session.authority() };
    let current = (await loadCut(store, cutId)).state;
    if (stateName(current) !== 'reverting') {
      const locks = await evaluateLocks(store, session.config(), session.env);
      if (locks.closed.length) throw new GovernanceRefusedError(`revert of cut ${cutId} refused`, locks.closed);
      const runId = `revert-${randomUUID().slice(0, 8)}`;
      current = (
        await handle(store, cutId, () => [{
          type: 'RevertStarted',
          data: { runId, planHash: c.planHash, executor: 'postgres-table', at: new Date().toISOString(), backupId: c.backup!.backupId, force: opts.force, evidence: { at: new Date().toISOString(), locks: locks.evidence } },
        }], meta)
      ).after;
    }
    const runId = current.snapshot.context.runId!;
    const base = { runId, planHash: c.planHash, executor: 'postgres-table' as const };
    const adapter = executorFor('live', spec, changesOf(plan, store.db));
    try {
      await adapter.prepare();
      const r = await adapter.revert({ cutId, runId, planHash: c.planHash }, { entries, preImageHash: c.backup!.preImageHash }, { force: opts.force });
      const after = await handle(store, cutId, () => [{
        type: 'CutReverted',
        data: { ...base, at: new Date().toISOString(), restoredHash: r.restoredHash, backupPreImageHash: c.backup!.preImageHash, rows: r.rows, receipt: r.receipt, ...(r.reconciled ? { reconciled: true } : {}) },
      }], meta);
      return { cutId, mode: 'live', runId, state: stateName(after.after), restore, remove: r.rows - restore, restoredHash: r.restoredHash };
    } catch (err) {
      if (isInterruption(err)) {
        throw new InterruptedError(`revert interrupted (${err instanceof Error ? err.message : String(err)}); nothing was recorded as failed: run the same command again to resume`);
      }
      const code = err instanceof CutterError ? err.code : 'Internal';
      await handle(store, cutId, () => [{ type: 'RevertFailed', data: { ...base, at: new Date().toISOString(), error: { code, message: err instanceof Error ? err.message : String(err) } } }], meta).catch(() => undefined);
      throw err;
    } finally {
      await adapter.close();
    }
  });
}
