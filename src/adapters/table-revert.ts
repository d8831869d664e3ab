/**
 * The revert phase of the live postgres-table adapter, in its three steps: where the planned rows
 * are now (as the cut left them, already as the backup, or drifted), the scope check of the backup
 * against the plan (keys in plan order, managed columns only), and the restore itself — all in the
 * one phase transaction, so a refusal restores nothing.
 */
import { GovernanceRefusedError, VerificationFailedError } from '../errors.js';
import type { Transaction } from '../store/connection.js';
import { BackupScope, canonicalKey } from './backup-scope.js';
import { ImageDigest, compareBatch, currentImage } from './images.js';
import type { BackupEntry, LiveExecutionAdapter, PhaseContext, RevertResult } from './port.js';
import { planKeys, restoreBatch, restoreManagedBatch, unmanagedChange } from './row-restores.js';
import { appendLedger, phaseTx, type TableTarget } from './table-target.js';

type RevertArgs = Parameters<LiveExecutionAdapter['revert']>;
type Backup = RevertArgs[1];
type RevertOpts = RevertArgs[2];

/** The revert phase (see LiveExecutionAdapter.revert for the contract). */
export async function revertTable(
  t: TableTarget,
  ctx: PhaseContext,
  backup: Backup,
  opts: RevertOpts,
): Promise<RevertResult> {
  const r = await phaseTx(t, ctx, 'revert', async (tx) => {
    const already = await alreadyRestoredOrRefuse(tx, t, backup.preImageHash, opts);
    const scope = opts.force ? undefined : new PlanScope(tx, t);
    const restored = new ImageDigest();
    let rows = 0;
    try {
      for await (const entries of backup.entries()) {
        const keys = entries.map((e) => e.key);
        await scope?.check(entries);
        if (!already) {
          if (opts.force) await restoreBatch(tx, t.spec, keys, rowsOf(entries));
          else await restoreManagedBatch(tx, t.spec, entries);
        }
        restored.add((await currentImage(tx, t.spec, `[${keys.join(',')}]`, 'rows')).part);
        rows += entries.length;
        opts.onRows?.(entries.length);
      }
      await scope?.finish();
    } finally {
      // A refusal stops reading the plan part-way: close it (a batch may be read ahead).
      await scope?.close();
    }
    const restoredHash = restored.digest();
    if (restoredHash !== backup.preImageHash)
      throw new VerificationFailedError(
        `revert: restored rows hash ${restoredHash} differs from the backup's ${backup.preImageHash}`,
      );
    await appendLedger(tx, t, ctx, 'revert', { restoredHash, rows, forced: opts.force, ...opts.anchor });
    return { rows, restoredHash };
  });
  return r as RevertResult;
}

const rowsOf = (entries: BackupEntry[]) => entries.flatMap((e) => (e.row === null ? [] : [e.row]));

/**
 * Where the planned rows are now. True when they already are as the backup holds them; false when
 * they are as the cut wrote them (or, `leftAs`, as a failed verify saw them); anything else is drift,
 * refused (GovernanceRefusedError) unless forced.
 */
async function alreadyRestoredOrRefuse(
  tx: Transaction,
  t: TableTarget,
  preImageHash: string,
  opts: RevertOpts,
): Promise<boolean> {
  const now = new ImageDigest();
  const actual = new ImageDigest();
  let asCut = true;
  for await (const b of t.changes()) {
    const c = await compareBatch(tx, t.spec, b.json, { samples: 0, pre: true });
    now.add(c.pre);
    actual.add(c.actual);
    if (c.missing + c.differs + c.present > 0) asCut = false;
  }
  const already = now.digest() === preImageHash;
  // A verify-failed cut left rows unlike the plan: still exactly as its verify saw them is no drift.
  const asLeft = opts.leftAs !== undefined && actual.digest() === opts.leftAs;
  if (!already && !asCut && !asLeft && !opts.force) {
    throw new GovernanceRefusedError(
      `drift: the rows of ${t.spec.table} changed since the cut; revert refused (use --force to restore anyway)`,
    );
  }
  return already;
}

/**
 * Scope: unless forced, the backup may hold only the plan's keys, in plan order, and may change
 * only the managed columns; the first entry beyond that refuses the whole revert (one transaction:
 * nothing is restored). The plan's keys are read batch by batch, as far as the backup has come.
 */
class PlanScope {
  private readonly scope = new BackupScope();
  private readonly planned: AsyncIterator<{ json: string }>;

  constructor(
    private readonly tx: Transaction,
    private readonly t: TableTarget,
  ) {
    this.planned = t.changes()[Symbol.asyncIterator]();
  }

  /** Refuses entries beyond the plan's keys or changing a column the target does not manage. */
  async check(entries: BackupEntry[]): Promise<void> {
    const keys = entries.map((e) => e.key);
    while (this.scope.pending() < keys.length) {
      const next = await this.planned.next();
      if (next.done) break;
      this.scope.addPlanned(await planKeys(this.tx, this.t.spec, next.value.json));
    }
    const problem = this.scope.check(keys);
    if (problem) throw this.refuse(problem);
    const column = await unmanagedChange(this.tx, this.t.spec, rowsOf(entries));
    if (column)
      throw this.refuse(
        `the backup would change column ${column.column} of key ${canonicalKey(column.key)}, ` +
          'which the target does not manage',
      );
  }

  /** Refuses a backup that ended before the plan's keys did. */
  async finish(): Promise<void> {
    for (let next = await this.planned.next(); !next.done; next = await this.planned.next())
      this.scope.addPlanned(await planKeys(this.tx, this.t.spec, next.value.json));
    const problem = this.scope.finish();
    if (problem) throw this.refuse(problem);
  }

  /** Stops reading the plan's keys (after a refusal, or when done). */
  async close(): Promise<void> {
    await this.planned.return?.();
  }

  private refuse(why: string): GovernanceRefusedError {
    return new GovernanceRefusedError(
      `revert of ${this.t.spec.table} refused: ${why}; nothing was restored (an out-of-scope restore needs --force)`,
      [why],
    );
  }
}
