/**
 * The live adapter for a PostgreSQL table. Every phase is ONE target transaction that takes the
 * target's advisory lock and writes its receipt; a phase whose receipt already exists returns the
 * recorded result (reconciled) instead of applying twice — that is how a crashed run resumes.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, hashOf, sha256 } from '../../events/canonical.js';
import { splitTable, type TargetSpec } from '../config/target.js';
import { GovernanceRefusedError, InvalidInputError, VerificationFailedError } from '../errors.js';
import { IsolationLevel, connect, sql, type ConnectionPool, type Transaction } from '../store/connection.js';
import { entryLine, headerLine } from './backup-format.js';
import {
  ImageDigest,
  compareBatch,
  currentImage,
  enactBatch,
  mismatchOf,
  planKeys,
  restoreBatch,
  restoreManagedBatch,
  unmanagedChange,
  writeBatch,
  type ChangeSource,
} from './images.js';
import { BackupScope, canonicalKey } from './backup-scope.js';
import type {
  AdapterHooks,
  BackupImage,
  EnactResult,
  LegAResult,
  LegBResult,
  LiveExecutionAdapter,
  PhaseContext,
  Receipt,
  RevertResult,
  VerifyResult,
} from './port.js';
import { LIVE_EXECUTOR } from '../../events/index.js';

type Phase = 'backup' | 'legA' | 'legB' | 'verify' | 'enact' | 'revert';

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
  const db: ConnectionPool = connect(spec.url, { poolSize: 2, applicationName: 'cutter-live' });
  const { schema } = splitTable(spec.table);
  const receipts = sql.ident(schema, 'cutter_receipts');
  const ledger = sql.ident(schema, 'cutter_ledger');

  /**
   * One phase transaction. The target's advisory lock is taken on the connection BEFORE the
   * transaction begins, so the REPEATABLE READ snapshot is taken after any other phase on this
   * target committed; then the receipt check, the work, and the receipt write commit together.
   */
  async function phaseTx<R extends Record<string, unknown>>(
    ctx: PhaseContext,
    phase: Phase,
    work: (tx: Transaction) => Promise<R>,
  ): Promise<R & { receipt: string; reconciled: boolean }> {
    return db.task(async (conn) => {
      const lock = sql`hashtextextended(${`cutter.target:${spec.table}`}, 0)`;
      await conn.query(sql`SELECT pg_advisory_lock(${lock})`);
      try {
        return await conn.tx(
          async (tx) => {
            const [done] = await tx.query(
              sql`SELECT digest, result FROM ${receipts} WHERE run_id = ${ctx.runId} AND phase = ${phase}`,
            );
            if (done) return { ...(done.result as R), receipt: done.digest as string, reconciled: true };
            const result = await work(tx);
            const digest = sha256(
              canonicalJson({ cutId: ctx.cutId, runId: ctx.runId, planHash: ctx.planHash, phase, result }),
            );
            await tx.query(
              sql`INSERT INTO ${receipts} (cut_id, run_id, phase, digest, result) VALUES (${ctx.cutId}, ${ctx.runId}, ${phase}, ${digest}, ${JSON.stringify(result)}::jsonb)`,
            );
            hooks.beforeCommit?.(phase);
            return { ...result, receipt: digest, reconciled: false };
          },
          { isolationLevel: IsolationLevel.REPEATABLE_READ },
        );
      } finally {
        await conn.query(sql`SELECT pg_advisory_unlock(${lock})`).catch(() => undefined);
      }
    });
  }

  return {
    executor: LIVE_EXECUTOR,

    async prepare() {
      // Create only what is missing, so a least-privilege runner (no CREATE) passes when prepared.
      const [have] = await db.query(
        sql`SELECT to_regclass(${`${schema}.cutter_receipts`}) IS NOT NULL AND to_regclass(${`${schema}.cutter_ledger`}) IS NOT NULL AS ok`,
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
      const [unique] = await db.query(sql`
        SELECT 1 AS ok FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ${schema} AND c.relname = ${table} AND i.indisunique
          AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey))
              = (SELECT array_agg(k ORDER BY k) FROM unnest(${spec.key}::text[]) k)`);
      if (!unique)
        throw new InvalidInputError(
          `targets.${spec.name}.key: ${spec.table} has no unique index on (${spec.key.join(', ')})`,
        );
    },

    async backup(ctx, opts = {}) {
      return db.tx(
        async (tx) => {
          const pre = new ImageDigest();
          const plaintext = createHash('sha256');
          const emit = async (text: string) => {
            plaintext.update(text);
            await opts.sink?.(text);
          };
          await emit(
            headerLine({
              cutId: ctx.cutId,
              planHash: ctx.planHash,
              target: spec.name,
              table: spec.table,
              key: spec.key,
            }),
          );
          let rowCount = 0;
          let entries = 0;
          for await (const b of changes()) {
            const image = await currentImage(tx, spec, b.json, 'changes', { rows: true });
            pre.add(image.part);
            await emit(image.keys.map((k, i) => entryLine(k, image.rows[i] ?? null)).join(''));
            rowCount += image.rows.filter((r) => r !== null).length;
            entries += b.count;
            opts.onRows?.(b.count);
          }
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
    },

    async writeLegA(ctx, opts) {
      const r = await phaseTx(ctx, 'legA', async (tx) => {
        const pre = new ImageDigest();
        const post = new ImageDigest();
        let inserted = 0;
        let updated = 0;
        let deleted = 0;
        for await (const b of changes()) {
          const w = await writeBatch(tx, spec, b.json);
          pre.add(w.pre);
          post.add(w.expected);
          inserted += w.inserted;
          updated += w.updated;
          deleted += w.deleted;
          opts.onRows?.(b.count);
        }
        // The planned rows as this snapshot saw them must be the rows the backup holds; if not, the
        // whole phase rolls back.
        if (pre.digest() !== opts.preImageHash) {
          throw new GovernanceRefusedError(
            `drift: the planned rows of ${spec.table} changed since the backup; nothing was written`,
          );
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
        const expected = new ImageDigest();
        const actual = new ImageDigest();
        const mismatches: { key: string; reason: string }[] = [];
        let count = 0;
        for await (const b of changes()) {
          const c = await compareBatch(tx, spec, b.json, { samples: 100 - mismatches.length });
          expected.add(c.expected);
          actual.add(c.actual);
          count += c.missing + c.differs + c.present;
          mismatches.push(...c.samples.map(mismatchOf));
          opts.onRows?.(b.count);
        }
        const result = {
          ok: count === 0,
          expectedHash: expected.digest(),
          actualHash: actual.digest(),
          mismatchCount: count,
          mismatches,
        };
        if (result.ok !== (result.expectedHash === result.actualHash))
          throw new VerificationFailedError('verify: the digests and the row comparison disagree');
        await tx.query(
          sql`INSERT INTO ${ledger} (cut_id, run_id, kind, plan_hash, payload) VALUES (${ctx.cutId}, ${ctx.runId}, 'verify', ${ctx.planHash}, ${JSON.stringify(result)}::jsonb)`,
        );
        return result;
      });
      return r as VerifyResult;
    },

    async enactLifecycle(ctx, opts = {}) {
      const r = await phaseTx(ctx, 'enact', async (tx) => {
        const lifecycle = spec.lifecycle;
        if (!lifecycle) return { skipped: true, rows: 0 };
        let rows = 0;
        for await (const b of changes()) {
          rows += await enactBatch(tx, spec, b.json, lifecycle);
          opts.onRows?.(b.count);
        }
        return { skipped: false, rows };
      });
      return r as EnactResult;
    },

    async revert(ctx, backup, opts) {
      const r = await phaseTx(ctx, 'revert', async (tx) => {
        // Where are the planned rows now: as the cut left them, already as the backup, or drifted?
        const now = new ImageDigest();
        const actual = new ImageDigest();
        let asCut = true;
        for await (const b of changes()) {
          const c = await compareBatch(tx, spec, b.json, { samples: 0, pre: true });
          now.add(c.pre);
          actual.add(c.actual);
          if (c.missing + c.differs + c.present > 0) asCut = false;
        }
        const already = now.digest() === backup.preImageHash;
        // A verify-failed cut left rows unlike the plan: still exactly as its verify saw them is no drift.
        const asLeft = opts.leftAs !== undefined && actual.digest() === opts.leftAs;
        if (!already && !asCut && !asLeft && !opts.force) {
          throw new GovernanceRefusedError(
            `drift: the rows of ${spec.table} changed since the cut; revert refused (use --force to restore anyway)`,
          );
        }
        // Scope: unless forced, the backup may hold only the plan's keys, in plan order, and may
        // change only the managed columns; the first entry beyond that refuses the whole revert
        // (one transaction: nothing is restored).
        const scope = new BackupScope();
        const planned = changes()[Symbol.asyncIterator]();
        const refuse = (why: string) =>
          new GovernanceRefusedError(
            `revert of ${spec.table} refused: ${why}; nothing was restored (an out-of-scope restore needs --force)`,
            [why],
          );
        const restored = new ImageDigest();
        let rows = 0;
        for await (const entries of backup.entries()) {
          const keys = entries.map((e) => e.key);
          if (!opts.force) {
            while (scope.pending() < keys.length) {
              const next = await planned.next();
              if (next.done) break;
              scope.addPlanned(await planKeys(tx, spec, next.value.json));
            }
            const problem = scope.check(keys);
            if (problem) throw refuse(problem);
            const column = await unmanagedChange(
              tx,
              spec,
              entries.flatMap((e) => (e.row === null ? [] : [e.row])),
            );
            if (column)
              throw refuse(
                `the backup would change column ${column.column} of key ${canonicalKey(column.key)}, which the target does not manage`,
              );
          }
          if (!already) {
            if (opts.force)
              await restoreBatch(
                tx,
                spec,
                keys,
                entries.flatMap((e) => (e.row === null ? [] : [e.row])),
              );
            else await restoreManagedBatch(tx, spec, entries);
          }
          restored.add((await currentImage(tx, spec, `[${keys.join(',')}]`, 'rows')).part);
          rows += entries.length;
          opts.onRows?.(entries.length);
        }
        if (!opts.force) {
          for (let next = await planned.next(); !next.done; next = await planned.next())
            scope.addPlanned(await planKeys(tx, spec, next.value.json));
          const problem = scope.finish();
          if (problem) throw refuse(problem);
        }
        const restoredHash = restored.digest();
        if (restoredHash !== backup.preImageHash)
          throw new VerificationFailedError(
            `revert: restored rows hash ${restoredHash} differs from the backup's ${backup.preImageHash}`,
          );
        await tx.query(sql`INSERT INTO ${ledger} (cut_id, run_id, kind, plan_hash, payload)
          VALUES (${ctx.cutId}, ${ctx.runId}, 'revert', ${ctx.planHash}, ${JSON.stringify({ restoredHash, rows, forced: opts.force, ...opts.anchor })}::jsonb)`);
        return { rows, restoredHash };
      });
      return r as RevertResult;
    },

    async receipt(runId, phase) {
      const [row] = await db.query(
        sql`SELECT phase, digest, result FROM ${receipts} WHERE run_id = ${runId} AND phase = ${phase}`,
      );
      return row ? ({ phase: row.phase, digest: row.digest, result: row.result } as Receipt) : null;
    },

    close: () => db.dispose(),
  };
}
