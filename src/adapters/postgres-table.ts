/**
 * The live adapter for a PostgreSQL table. Every phase is ONE target transaction that takes the
 * target's advisory lock and writes its receipt; a phase whose receipt already exists returns the
 * recorded result (reconciled) instead of applying twice — that is how a crashed run resumes.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, hashOf, sha256 } from '../../events/canonical.js';
import { splitTable, type TargetSpec } from '../config/target.js';
import { GovernanceRefusedError, InvalidInputError, VerificationFailedError } from '../errors.js';
import { IsolationLevel } from '@databases/pg';
import { connect, sql, type ConnectionPool, type Transaction } from '../store/connection.js';
import { entryLine, headerLine } from './backup-format.js';
import {
  batches, Chain, compareBatch, expectedPart, currentImage, deleteBatch, enactBatch, fingerprintPart, mismatchOf, restoreBatch, upsertBatch, type ChangeSource,
} from './images.js';
import type { BackupImage, EnactResult, LegAResult, LegBResult, LiveExecutionAdapter, PhaseContext, Receipt, RevertResult, VerifyResult } from './port.js';

type Phase = 'backup' | 'legA' | 'legB' | 'verify' | 'enact' | 'revert';

export function createPostgresTableAdapter(spec: TargetSpec, changes: ChangeSource): LiveExecutionAdapter {
  const db: ConnectionPool = connect(spec.url, { poolSize: 2, applicationName: 'cutter-live' });
  const { schema } = splitTable(spec.table);
  const receipts = sql.ident(schema, 'cutter_receipts');
  const ledger = sql.ident(schema, 'cutter_ledger');

  /** One phase transaction: advisory lock, receipt check, work, receipt write. */
  async function phaseTx<R extends Record<string, unknown>>(ctx: PhaseContext, phase: Phase, work: (tx: Transaction) => Promise<R>): Promise<R & { receipt: string; reconciled: boolean }> {
    return db.tx(async (tx) => {
      await tx.query(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`cutter.target:${spec.table}`}, 0))`);
      const [done] = await tx.query(sql`SELECT digest, result FROM ${receipts} WHERE run_id = ${ctx.runId} AND phase = ${phase}`);
      if (done) return { ...(done.result as R), receipt: done.digest as string, reconciled: true };
      const result = await work(tx);
      const digest = sha256(canonicalJson({ cutId: ctx.cutId, runId: ctx.runId, planHash: ctx.planHash, phase, result }));
      await tx.query(sql`INSERT INTO ${receipts} (cut_id, run_id, phase, digest, result) VALUES (${ctx.cutId}, ${ctx.runId}, ${phase}, ${digest}, ${JSON.stringify(result)}::jsonb)`);
      return { ...result, receipt: digest, reconciled: false };
    });
  }

  return {
    executor: 'postgres-table',

    async prepare() {
      // Create only what is missing, so a least-privilege runner (no CREATE) passes when prepared.
      const [have] = await db.query(sql`SELECT to_regclass(${`${schema}.cutter_receipts`}) IS NOT NULL AND to_regclass(${`${schema}.cutter_ledger`}) IS NOT NULL AS ok`);
      if (!have?.ok) await db.tx(async (tx) => {
        await tx.query(sql`SELECT pg_advisory_xact_lock(hashtextextended('cutter.prepare', 0))`);
        await tx.query(sql`CREATE TABLE IF NOT EXISTS ${receipts} (
          cut_id text NOT NULL, run_id text NOT NULL, phase text NOT NULL, digest text NOT NULL,
          result jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, phase))`);
        await tx.query(sql`CREATE TABLE IF NOT EXISTS ${ledger} (
          id bigserial PRIMARY KEY, cut_id text NOT NULL, run_id text NOT NULL, kind text NOT NULL,
          plan_hash text NOT NULL, payload jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
      });
      const { table } = splitTable(spec.table);
      const [unique] = await db.query(sql`
        SELECT 1 AS ok FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ${schema} AND c.relname = ${table} AND i.indisunique
          AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey))
              = (SELECT array_agg(k ORDER BY k) FROM unnest(${spec.key}::text[]) k)`);
      if (!unique) throw new InvalidInputError(`targets.${spec.name}.key: ${spec.table} has no unique index on (${spec.key.join(', ')})`);
    },

    async backup(ctx, opts = {}) {
      return db.tx(
        async (tx) => {
          const pre = new Chain();
          const plaintext = createHash('sha256');
          const emit = async (text: string) => {
            plaintext.update(text);
            await opts.sink?.(text);
          };
          await emit(headerLine({ cutId: ctx.cutId, planHash: ctx.planHash, target: spec.name, table: spec.table, key: spec.key }));
          let rowCount = 0;
          let entries = 0;
          for await (const b of batches(spec, changes)) {
            const image = await currentImage(tx, spec, b.keys, { rows: true });
            pre.add(fingerprintPart(image.fingerprints));
            await emit(b.keys.map((k, i) => entryLine(k, image.rows[i] ?? null)).join(''));
            rowCount += image.rows.filter((r) => r !== null).length;
            entries += b.keys.length;
            opts.onRows?.(b.keys.length);
          }
          const plaintextHash = plaintext.digest('hex');
          return { preImageHash: pre.digest(), plaintextHash, rowCount, entries, receipt: sha256(`${ctx.runId}:backup:${plaintextHash}`) } satisfies BackupImage;
        },
        { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true },
      );
    },

    async writeLegA(ctx, opts) {
      const r = await phaseTx(ctx, 'legA', async (tx) => {
        const pre = new Chain();
        const post = new Chain();
        let inserted = 0;
        let updated = 0;
        let deleted = 0;
        for await (const b of batches(spec, changes)) {
          // Lock the planned rows that exist and fingerprint their latest versions; the chain is
          // compared with the backup's before commit, so a drifted row rolls the whole phase back.
          pre.add(fingerprintPart((await currentImage(tx, spec, b.keys, { lock: true })).fingerprints));
          if (b.upserts.length) {
            const [u] = await tx.query(upsertBatch(spec, b.upserts));
            inserted += Number(u?.inserted);
            updated += Number(u?.updated);
          }
          if (b.deletes.length) deleted += Number((await tx.query(deleteBatch(spec, b.deletes)))[0]?.n);
          post.add(await expectedPart(tx, spec, b));
          opts.onRows?.(b.keys.length);
        }
        if (pre.digest() !== opts.preImageHash) {
          throw new GovernanceRefusedError(`drift: the planned rows of ${spec.table} changed since the backup; nothing was written`);
        }
        return { inserted, updated, deleted, digest: post.digest() };
      });
      return r as LegAResult;
    },

    async recordLegB(ctx, governance) {
      const r = await phaseTx(ctx, 'legB', async (tx) => {
        const digest = hashOf(governance);
        const [row] = await tx.query(sql`
          INSERT INTO ${ledger} (cut_id, run_id, kind, plan_hash, payload) VALUES (${ctx.cutId}, ${ctx.runId}, 'leg_b', ${ctx.planHash}, ${JSON.stringify(governance)}::jsonb)
          RETURNING id`);
        return { ledgerId: String(row?.id), digest };
      });
      return r as LegBResult;
    },

    async verify(ctx, opts = {}) {
      const r = await phaseTx(ctx, 'verify', async (tx) => {
        const expected = new Chain();
        const actual = new Chain();
        const mismatches: { key: string; reason: string }[] = [];
        let count = 0;
        for await (const b of batches(spec, changes)) {
          const c = await compareBatch(tx, spec, b, { samples: Math.max(0, 100 - mismatches.length) });
          expected.add(c.expected);
          actual.add(c.actual);
          count += c.missing + c.differs + c.present;
          mismatches.push(...c.samples.map(mismatchOf).slice(0, 100 - mismatches.length));
          opts.onRows?.(b.keys.length);
        }
        const result = { ok: count === 0, expectedHash: expected.digest(), actualHash: actual.digest(), mismatchCount: count, mismatches };
        if (result.ok !== (result.expectedHash === result.actualHash)) throw new VerificationFailedError('verify: digests and row comparison disagree');
        await tx.query(sql`INSERT INTO ${ledger} (cut_id, run_id, kind, plan_hash, payload) VALUES (${ctx.cutId}, ${ctx.runId}, 'verify', ${ctx.planHash}, ${JSON.stringify(result)}::jsonb)`);
        return result;
      });
      return r as VerifyResult;
    },

    async enactLifecycle(ctx, opts = {}) {
      const r = await phaseTx(ctx, 'enact', async (tx) => {
        const lifecycle = spec.lifecycle;
        if (!lifecycle) return { skipped: true, rows: 0 };
        let rows = 0;
        for await (const b of batches(spec, changes)) {
          if (b.upserts.length) rows += Number((await tx.query(enactBatch(spec, b.upserts.map((u) => Object.fromEntries(spec.key.map((k) => [k, u[k]]))), lifecycle)))[0]?.n);
          opts.onRows?.(b.keys.length);
        }
        return { skipped: false, rows };
      });
      return r as EnactResult;
    },

    async revert(ctx, backup, opts) {
      const r = await phaseTx(ctx, 'revert', async (tx) => {
        // Where are the planned rows now: as the cut left them, already as the backup, or drifted?
        const now = new Chain();
        let asCut = true;
        for await (const b of batches(spec, changes)) {
          now.add(fingerprintPart((await currentImage(tx, spec, b.keys, { lock: true })).fingerprints));
          const c = await compareBatch(tx, spec, b, { samples: 0 });
          if (c.missing + c.differs + c.present > 0) asCut = false;
        }
        const already = now.digest() === backup.preImageHash;
        if (!already && !asCut && !opts.force) {
          throw new GovernanceRefusedError(`drift: the rows of ${spec.table} changed since the cut; revert refused (use --force to restore anyway)`);
        }
        const restored = new Chain();
        let rows = 0;
        for await (const entries of backup.entries()) {
          const keys = entries.map((e) => e.key);
          if (!already) await restoreBatch(tx, spec, keys, entries.flatMap((e) => (e.row === null ? [] : [e.row])));
          restored.add(fingerprintPart((await currentImage(tx, spec, keys)).fingerprints));
          rows += entries.length;
          opts.onRows?.(entries.length);
        }
        const restoredHash = restored.digest();
        if (restoredHash !== backup.preImageHash) throw new VerificationFailedError(`revert: restored rows hash ${restoredHash} differs from the backup's ${backup.preImageHash}`);
        await tx.query(sql`INSERT INTO ${ledger} (cut_id, run_id, kind, plan_hash, payload)
          VALUES (${ctx.cutId}, ${ctx.runId}, 'revert', ${ctx.planHash}, ${JSON.stringify({ restoredHash, rows, forced: opts.force })}::jsonb)`);
        return { rows, restoredHash };
      });
      return r as RevertResult;
    },

    async receipt(runId, phase) {
      const [row] = await db.query(sql`SELECT phase, digest, result FROM ${receipts} WHERE run_id = ${runId} AND phase = ${phase}`);
      return row ? ({ phase: row.phase, digest: row.digest, result: row.result } as Receipt) : null;
    },

    close: () => db.dispose(),
  };
}
