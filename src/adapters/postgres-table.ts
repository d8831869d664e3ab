/**
 * The live adapter for a PostgreSQL table. Every phase is ONE target transaction that takes the
 * target's advisory lock and writes its receipt; a phase whose receipt already exists returns the
 * recorded result (reconciled) instead of applying twice — that is how a crashed run resumes.
 */
import { canonicalJson, hashOf, sha256 } from '../../events/canonical.js';
import type { CutPlan } from '../../events/plan.js';
import { splitTable, type TargetSpec } from '../config/target.js';
import { GovernanceRefusedError, InvalidInputError, VerificationFailedError } from '../errors.js';
import { IsolationLevel } from '@databases/pg';
import { connect, sql, type ConnectionPool, type Transaction } from '../store/connection.js';
import {
  chunks, currentRows, expectedPostImage, keyMatch, keyText, managed, managedImage, normalisedPlan, plannedKeys, preImageHash, project, readPreImage, tableRef,
} from './images.js';
import type { BackupImage, EnactResult, LegAResult, LegBResult, LiveExecutionAdapter, PhaseContext, PreImageEntry, Receipt, RevertResult, Row, VerifyResult } from './port.js';

type Phase = 'backup' | 'legA' | 'legB' | 'verify' | 'enact' | 'revert';

export function createPostgresTableAdapter(spec: TargetSpec, plan: CutPlan): LiveExecutionAdapter {
  const db: ConnectionPool = connect(spec.url, { poolSize: 2, applicationName: 'cutter-live' });
  const { schema } = splitTable(spec.table);
  const receipts = sql.ident(schema, 'cutter_receipts');
  const ledger = sql.ident(schema, 'cutter_ledger');
  const t = tableRef(spec);

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

  // The plan normalised through the table's types: computed once per adapter, not once per phase.
  let normalised: ReturnType<typeof normalisedPlan> | undefined;
  const planImages = (q: Transaction | ConnectionPool) => (normalised ??= normalisedPlan(q, spec, plan).catch((err) => {
    normalised = undefined;
    throw err;
  }));

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

    async backup(ctx) {
      return db.tx(
        async (tx) => {
          const n = await planImages(tx);
          const keys = plannedKeys(spec, n);
          const preImage = await readPreImage(tx, spec, keys);
          const preHash = preImageHash(preImage);
          const plaintext = canonicalJson({ cutId: ctx.cutId, planHash: ctx.planHash, target: spec.name, table: spec.table, key: spec.key, preImage });
          const plaintextHash = sha256(plaintext);
          const rowCount = preImage.filter((p) => p.row).length;
          return { preImage, preImageHash: preHash, plaintext, plaintextHash, rowCount, receipt: sha256(`${ctx.runId}:backup:${plaintextHash}`) } satisfies BackupImage;
        },
        { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true },
      );
    },

    async writeLegA(ctx, opts) {
      const r = await phaseTx(ctx, 'legA', async (tx) => {
        const n = await planImages(tx);
        const keys = plannedKeys(spec, n);
        const pre = await readPreImage(tx, spec, keys, { lock: true });
        if (preImageHash(pre) !== opts.preImageHash) {
          throw new GovernanceRefusedError(`drift: the planned rows of ${spec.table} changed since the backup; nothing was written`);
        }
        let inserted = 0;
        let updated = 0;
        const cols = managed(spec);
        const setList = sql.join(spec.columns.map((c) => sql`${sql.ident(c)} = EXCLUDED.${sql.ident(c)}`), sql`, `);
        for (const batch of chunks(n.upserts)) {
          const rows = await tx.query(sql`
            INSERT INTO ${t} (${sql.join(cols.map((c) => sql.ident(c)), sql`, `)})
            SELECT ${sql.join(cols.map((c) => sql.ident(c)), sql`, `)} FROM jsonb_populate_recordset(NULL::${t}, ${JSON.stringify(batch)}::jsonb)
            ON CONFLICT (${sql.join(spec.key.map((k) => sql.ident(k)), sql`, `)}) DO UPDATE SET ${setList}
            RETURNING (xmax = 0) AS inserted`);
          for (const row of rows) {
            if (row.inserted) inserted++;
            else updated++;
          }
          opts.onRows?.(batch.length);
        }
        let deleted = 0;
        for (const batch of chunks(n.deletes)) {
          const rows = await tx.query(sql`
            DELETE FROM ${t} t USING jsonb_populate_recordset(NULL::${t}, ${JSON.stringify(batch)}::jsonb) x WHERE ${keyMatch(spec, 't', 'x')} RETURNING 1`);
          deleted += rows.length;
          opts.onRows?.(batch.length);
        }
        return { inserted, updated, deleted, digest: hashOf(expectedPostImage(spec, n, keys)) };
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

    async verify(ctx) {
      const r = await phaseTx(ctx, 'verify', async (tx) => {
        const n = await planImages(tx);
        const keys = plannedKeys(spec, n);
        const expected = expectedPostImage(spec, n, keys);
        const actual = managedImage(spec, await currentRows(tx, spec, keys));
        const mismatches = keys.flatMap((k, i) => {
          const e = expected[i] ?? null;
          const a = actual[i] ?? null;
          if (canonicalJson(e) === canonicalJson(a)) return [];
          const reason = !a ? 'missing' : !e ? 'unexpected' : `differs: ${managed(spec).filter((c) => canonicalJson(e[c]) !== canonicalJson(a[c])).join(',')}`;
          return [{ key: keyText(spec, k), reason }];
        });
        const result = { ok: mismatches.length === 0, expectedHash: hashOf(expected), actualHash: hashOf(actual), mismatches: mismatches.slice(0, 100) };
        await tx.query(sql`INSERT INTO ${ledger} (cut_id, run_id, kind, plan_hash, payload) VALUES (${ctx.cutId}, ${ctx.runId}, 'verify', ${ctx.planHash}, ${JSON.stringify(result)}::jsonb)`);
        return result;
      });
      return r as VerifyResult;
    },

    async enactLifecycle(ctx) {
      const r = await phaseTx(ctx, 'enact', async (tx) => {
        if (!spec.lifecycle) return { skipped: true, rows: 0 };
        const n = await planImages(tx);
        let rows = 0;
        for (const batch of chunks(n.upserts.map((u) => project(u, spec.key)))) {
          const res = await tx.query(sql`
            UPDATE ${t} t SET ${sql.ident(spec.lifecycle.column)} = ${spec.lifecycle.value}
            FROM jsonb_populate_recordset(NULL::${t}, ${JSON.stringify(batch)}::jsonb) x WHERE ${keyMatch(spec, 't', 'x')} RETURNING 1`);
          rows += res.length;
        }
        return { skipped: false, rows };
      });
      return r as EnactResult;
    },

    async revert(ctx, backup, opts) {
      const parsed = JSON.parse(backup.plaintext) as { preImage: PreImageEntry[] };
      const pre = parsed.preImage;
      const keys = pre.map((p) => p.key);
      const r = await phaseTx(ctx, 'revert', async (tx) => {
        const now = await readPreImage(tx, spec, keys, { lock: true });
        const n = await planImages(tx);
        const expectedAfterCut = hashOf(expectedPostImage(spec, n, keys));
        const current = hashOf(managedImage(spec, now.map((p) => p.row)));
        const already = preImageHash(now) === backup.preImageHash;
        if (!already && current !== expectedAfterCut && !opts.force) {
          throw new GovernanceRefusedError(`drift: the rows of ${spec.table} changed since the cut; revert refused (use --force to restore anyway)`);
        }
        if (!already) {
          for (const batch of chunks(keys)) {
            await tx.query(sql`DELETE FROM ${t} t USING jsonb_populate_recordset(NULL::${t}, ${JSON.stringify(batch)}::jsonb) x WHERE ${keyMatch(spec, 't', 'x')}`);
          }
          for (const batch of chunks(pre.filter((p) => p.row).map((p) => p.row as Row))) {
            await tx.query(sql`INSERT INTO ${t} OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_recordset(NULL::${t}, ${JSON.stringify(batch)}::jsonb)`);
          }
        }
        const restored = preImageHash(await readPreImage(tx, spec, keys));
        if (restored !== backup.preImageHash) throw new VerificationFailedError(`revert: restored rows hash ${restored} differs from the backup's ${backup.preImageHash}`);
        await tx.query(sql`INSERT INTO ${ledger} (cut_id, run_id, kind, plan_hash, payload)
          VALUES (${ctx.cutId}, ${ctx.runId}, 'revert', ${ctx.planHash}, ${JSON.stringify({ restoredHash: restored, rows: keys.length, forced: opts.force })}::jsonb)`);
        return { rows: keys.length, restoredHash: restored };
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
