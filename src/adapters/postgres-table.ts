/**
 * The live adapter for a PostgreSQL table. Every phase is ONE target transaction that takes the
 * target's advisory lock and writes its receipt; a phase whose receipt already exists returns the
 * recorded result (reconciled) instead of applying twice — that is how a crashed run resumes.
 * The read-only phases (backup, verify) also read on a second connection, in their transaction's
 * snapshot (snapshot-readers.ts). The phase transaction and the ledger are in table-target.ts,
 * the revert phase in table-revert.ts.
 */
import { createHash } from 'node:crypto';
import { hashOf, sha256 } from '../../events/canonical.js';
import { LIVE_EXECUTOR } from '../../events/index.js';
import type { ChangeSource } from '../config/changes.js';
import { splitTable, type TargetSpec } from '../config/target.js';
import { GovernanceRefusedError, InvalidInputError, VerificationFailedError } from '../errors.js';
import { IsolationLevel, connect, sql } from '../store/connection.js';
import { headerLine } from './backup-format.js';
import { refuseDollarColumns } from './row-sql.js';
import { ImageDigest, backupImage, backupSlicer, compareBatch, mismatchOf } from './images.js';
import type {
  AdapterHooks,
  BackupImage,
  EnactResult,
  LegAResult,
  LegBResult,
  LiveExecutionAdapter,
  OnRows,
  PhaseContext,
  PlaintextSink,
  Receipt,
  VerifyResult,
} from './port.js';
import { enactBatch, writeBatch } from './row-writes.js';
import { inPlanOrder, withSnapshotReader } from './snapshot-readers.js';
import { revertTable } from './table-revert.js';
import { appendLedger, phaseTx, tableTarget, type TableTarget } from './table-target.js';

/**
 * The live adapter for one target table: each phase is ONE target transaction that also writes the
 * phase's receipt, so a re-run after a crash finds a committed phase and reports it reconciled
 * instead of applying it twice. Leg A refuses rows that drifted since the backup, and revert drift
 * unless forced (GovernanceRefusedError, nothing written); a target without a unique index on the key
 * is InvalidInputError; a restore or verify whose hashes disagree is VerificationFailedError.
 */
export function createPostgresTableAdapter(
  spec: TargetSpec,
  changes: ChangeSource,
  hooks: AdapterHooks = {},
): LiveExecutionAdapter {
  const db = connect(spec.url, { poolSize: 2, applicationName: 'cutter-live' });
  const t = tableTarget(spec, db, changes, hooks);
  return {
    executor: LIVE_EXECUTOR,
    prepare: () => prepareTable(t),
    backup: (ctx, opts = {}) => backupRows(t, ctx, opts),
    writeLegA: (ctx, opts) => writeLegA(t, ctx, opts),
    recordLegB: (ctx, governance) => recordLegB(t, ctx, governance),
    verify: (ctx, opts = {}) => verifyRows(t, ctx, opts),
    enactLifecycle: (ctx, opts = {}) => enactLifecycle(t, ctx, opts),
    revert: (ctx, backup, opts) => revertTable(t, ctx, backup, opts),
    async receipt(runId, phase) {
      const [row] = await db.query(
        sql`SELECT phase, digest, result FROM ${t.receipts} WHERE run_id = ${runId} AND phase = ${phase}`,
      );
      return row ? ({ phase: row.phase, digest: row.digest, result: row.result } as Receipt) : null;
    },
    close: () => db.dispose(),
  };
}

/**
 * Creates the receipt and ledger tables if missing (only what is missing, so a least-privilege
 * runner without CREATE passes once prepared) and checks the key has a unique index and that no
 * column's name starts with `$` (the row SQL's own aliases do: `"$t"`, `"$c"`, `"$ord"`, … row-sql.ts).
 */
async function prepareTable({ db, spec, schema, receipts, ledger }: TableTarget): Promise<void> {
  const [have] = await db.query(
    sql`SELECT to_regclass(${`${schema}.cutter_receipts`}) IS NOT NULL
      AND to_regclass(${`${schema}.cutter_ledger`}) IS NOT NULL AS ok`,
  );
  if (!have?.ok)
    await db.tx(async (tx) => {
      await tx.query(sql`SELECT pg_advisory_xact_lock(hashtextextended('cutter.prepare', 0))`);
      await tx.query(sql`CREATE TABLE IF NOT EXISTS ${receipts} (
          cut_id text NOT NULL, run_id text NOT NULL, phase text NOT NULL, digest text NOT NULL,
          result jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, phase))`);
      await tx.query(sql`CREATE TABLE IF NOT EXISTS ${ledger} (
          id bigserial PRIMARY KEY, cut_id text NOT NULL, run_id text NOT NULL, kind text NOT NULL,
          plan_hash text NOT NULL, payload jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
    });
  const { table } = splitTable(spec.table);
  await refuseDollarColumns(db, spec);
  const [unique] = await db.query(sql`
    SELECT 1 AS ok FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${schema} AND c.relname = ${table} AND i.indisunique
      AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
           FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey))
          = (SELECT array_agg(k ORDER BY k) FROM unnest(${spec.key}::text[]) k)`);
  if (!unique)
    throw new InvalidInputError(
      `targets.${spec.name}.key: ${spec.table} has no unique index on (${spec.key.join(', ')})`,
    );
}

/**
 * The backup phase, read only: streams the header and one entry per planned key (the full current
 * row or null) to the sink, and returns the pre-image hash and the plaintext's SHA-256. The sink
 * takes a slice's lines while the next slice is read, so encryption and the blob writes overlap
 * the reads; the slices (`backupSlicer`: whole batches of ordinary rows after the first few, a
 * few groups of wide ones) are read on two connections in one snapshot, and the plaintext is
 * hashed and sunk strictly in plan order.
 */
async function backupRows(
  { db, spec, changes }: TableTarget,
  ctx: PhaseContext,
  opts: { sink?: PlaintextSink; onRows?: OnRows },
): Promise<BackupImage> {
  return db.tx(
    async (tx) => {
      const pre = new ImageDigest();
      const plaintext = createHash('sha256');
      // Marked handled at once: a sink failure surfaces when the next batch awaits it, not as an
      // unhandled rejection while that batch's statement runs.
      const emit = (text: string) => {
        plaintext.update(text);
        const written = Promise.resolve(opts.sink?.(text));
        written.catch(() => undefined);
        return written;
      };
      const header = { cutId: ctx.cutId, planHash: ctx.planHash, target: spec.name, table: spec.table, key: spec.key };
      let sunk = emit(headerLine(header));
      let rowCount = 0;
      let entries = 0;
      const slicer = backupSlicer();
      try {
        await withSnapshotReader(db, tx, (conns) =>
          inPlanOrder(
            slicer.slices(changes()),
            conns,
            (q, b) => backupImage(q, spec, b),
            async (image, b) => {
              slicer.seen(image.widest);
              pre.add(image.part);
              for (const text of joinedUpTo(image.lines, SINK_CHARS)) {
                await sunk;
                sunk = emit(text);
              }
              rowCount += image.present;
              entries += b.count;
              opts.onRows?.(b.count);
            },
          ),
        );
      } finally {
        // Settle the last sink write before the transaction ends, failed or not.
        await sunk.catch(() => undefined);
      }
      await sunk;
      const plaintextHash = plaintext.digest('hex');
      return {
        preImageHash: pre.digest(),
        plaintextHash,
        rowCount,
        entries,
        receipt: sha256(`${ctx.runId}:backup:${plaintextHash}`),
      } satisfies BackupImage;
    },
    { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true },
  );
}

/**
 * Characters handed to the backup's sink at once, at most (or one group, if longer): a slice's
 * groups of entry lines are joined up to this, so ordinary rows still make one write per slice,
 * and wide ones never make a string longer than JavaScript allows.
 */
const SINK_CHARS = 16 * 1024 * 1024;

/** `parts` in order, adjacent ones joined while the result stays within `max` characters. */
export function* joinedUpTo(parts: readonly string[], max: number): Generator<string> {
  let run: string[] = [];
  let chars = 0;
  for (const p of parts) {
    if (run.length > 0 && chars + p.length > max) {
      yield run.join('');
      run = [];
      chars = 0;
    }
    run.push(p);
    chars += p.length;
  }
  if (run.length > 0) yield run.join('');
}

/** Leg A: writes every batch; the planned rows this snapshot saw must be the backup's, or it all rolls back. */
async function writeLegA(
  t: TableTarget,
  ctx: PhaseContext,
  opts: { preImageHash: string; onRows?: OnRows },
): Promise<LegAResult> {
  const r = await phaseTx(t, ctx, 'legA', async (tx) => {
    const pre = new ImageDigest();
    const post = new ImageDigest();
    let inserted = 0;
    let updated = 0;
    let deleted = 0;
    for await (const b of t.changes()) {
      const w = await writeBatch(tx, t.spec, b.json);
      pre.add(w.pre);
      post.add(w.expected);
      inserted += w.inserted;
      updated += w.updated;
      deleted += w.deleted;
      opts.onRows?.(b.count);
    }
    if (pre.digest() !== opts.preImageHash) {
      throw new GovernanceRefusedError(
        `drift: the planned rows of ${t.spec.table} changed since the backup; nothing was written`,
      );
    }
    return { inserted, updated, deleted, digest: post.digest() };
  });
  return r as LegAResult;
}

/** Leg B: the governance record in the target's ledger. */
async function recordLegB(t: TableTarget, ctx: PhaseContext, governance: Record<string, unknown>): Promise<LegBResult> {
  const r = await phaseTx(t, ctx, 'legB', async (tx) => ({
    ledgerId: await appendLedger(tx, t, ctx, 'leg_b', governance),
    digest: hashOf(governance),
  }));
  return r as LegBResult;
}

/** The mismatching rows verify reports (and records) at most: the first ones in plan order. */
const SAMPLES = 100;

/**
 * Verify: the table against the planned post-image, digests and row comparison agreeing; recorded in
 * the ledger. The batches are compared on two connections in the phase transaction's snapshot.
 */
async function verifyRows(t: TableTarget, ctx: PhaseContext, opts: { onRows?: OnRows }): Promise<VerifyResult> {
  const r = await phaseTx(t, ctx, 'verify', async (tx) => {
    const expected = new ImageDigest();
    const actual = new ImageDigest();
    const mismatches: { key: string; reason: string }[] = [];
    let count = 0;
    await withSnapshotReader(t.db, tx, (conns) =>
      inPlanOrder(
        t.changes(),
        conns,
        // A batch asks for what is left when it starts, which may be more than is left when its
        // turn comes (the batch before it still running): cut there, the samples are the first
        // SAMPLES mismatches in plan order, as when each batch started after the one before.
        (q, b) => compareBatch(q, t.spec, b.json, { samples: SAMPLES - mismatches.length }),
        (c, b) => {
          expected.add(c.expected);
          actual.add(c.actual);
          count += c.missing + c.differs + c.present;
          mismatches.push(...c.samples.slice(0, SAMPLES - mismatches.length).map(mismatchOf));
          opts.onRows?.(b.count);
        },
      ),
    );
    const result = {
      ok: count === 0,
      expectedHash: expected.digest(),
      actualHash: actual.digest(),
      mismatchCount: count,
      mismatches,
    };
    if (result.ok !== (result.expectedHash === result.actualHash))
      throw new VerificationFailedError('verify: the digests and the row comparison disagree');
    await appendLedger(tx, t, ctx, 'verify', result);
    return result;
  });
  return r as VerifyResult;
}

/** Enact: sets the lifecycle column on the upserted keys (skipped when the target has none). */
async function enactLifecycle(t: TableTarget, ctx: PhaseContext, opts: { onRows?: OnRows }): Promise<EnactResult> {
  const r = await phaseTx(t, ctx, 'enact', async (tx) => {
    const lifecycle = t.spec.lifecycle;
    if (!lifecycle) return { skipped: true, rows: 0 };
    let rows = 0;
    for await (const b of t.changes()) {
      rows += await enactBatch(tx, t.spec, b.json, lifecycle);
      opts.onRows?.(b.count);
    }
    return { skipped: false, rows };
  });
  return r as EnactResult;
}
