/**
 * What every phase of the live postgres-table adapter shares: the target, its connection pool, its
 * receipt and ledger tables, and the phase transaction that makes a phase apply at most once.
 */
import { canonicalJson, sha256 } from '../../events/canonical.js';
import type { ChangeSource } from '../config/changes.js';
import { splitTable, type TargetSpec } from '../config/target.js';
import { IsolationLevel, sql, type ConnectionPool, type SQLQuery, type Transaction } from '../store/connection.js';
import type { AdapterHooks, PhaseContext } from './port.js';

export type Phase = 'backup' | 'legA' | 'legB' | 'verify' | 'enact' | 'revert';

/** One live adapter's target: the spec, its pool, the plan's changes and its bookkeeping tables. */
export interface TableTarget {
  spec: TargetSpec;
  db: ConnectionPool;
  changes: ChangeSource;
  hooks: AdapterHooks;
  schema: string;
  receipts: SQLQuery;
  ledger: SQLQuery;
}

/** The target's bookkeeping tables live in the target table's schema. */
export function tableTarget(spec: TargetSpec, db: ConnectionPool, changes: ChangeSource, hooks: AdapterHooks) {
  const { schema } = splitTable(spec.table);
  const receipts = sql.ident(schema, 'cutter_receipts');
  const ledger = sql.ident(schema, 'cutter_ledger');
  return { spec, db, changes, hooks, schema, receipts, ledger } satisfies TableTarget;
}

/**
 * One phase transaction. The target's advisory lock is taken on the connection BEFORE the
 * transaction begins, so the REPEATABLE READ snapshot is taken after any other phase on this
 * target committed; then the receipt check, the work, and the receipt write commit together.
 * A phase whose receipt exists returns the recorded result, `reconciled`, without running `work`.
 */
export async function phaseTx<R extends Record<string, unknown>>(
  t: TableTarget,
  ctx: PhaseContext,
  phase: Phase,
  work: (tx: Transaction) => Promise<R>,
): Promise<R & { receipt: string; reconciled: boolean }> {
  return t.db.task(async (conn) => {
    const lock = sql`hashtextextended(${`cutter.target:${t.spec.table}`}, 0)`;
    await conn.query(sql`SELECT pg_advisory_lock(${lock})`);
    try {
      return await conn.tx(
        async (tx) => {
          const [done] = await tx.query(
            sql`SELECT digest, result FROM ${t.receipts} WHERE run_id = ${ctx.runId} AND phase = ${phase}`,
          );
          if (done) return { ...(done.result as R), receipt: done.digest as string, reconciled: true };
          const result = await work(tx);
          const digest = sha256(
            canonicalJson({ cutId: ctx.cutId, runId: ctx.runId, planHash: ctx.planHash, phase, result }),
          );
          await tx.query(
            sql`INSERT INTO ${t.receipts} (cut_id, run_id, phase, digest, result)
              VALUES (${ctx.cutId}, ${ctx.runId}, ${phase}, ${digest}, ${JSON.stringify(result)}::jsonb)`,
          );
          t.hooks.beforeCommit?.(phase);
          return { ...result, receipt: digest, reconciled: false };
        },
        { isolationLevel: IsolationLevel.REPEATABLE_READ },
      );
    } finally {
      await conn.query(sql`SELECT pg_advisory_unlock(${lock})`).catch(() => undefined);
    }
  });
}

/** Appends one row to the target's ledger (inside the phase transaction); returns its id. */
export async function appendLedger(
  tx: Transaction,
  t: TableTarget,
  ctx: PhaseContext,
  kind: 'leg_b' | 'verify' | 'revert',
  payload: unknown,
): Promise<string> {
  const [row] = await tx.query(sql`
    INSERT INTO ${t.ledger} (cut_id, run_id, kind, plan_hash, payload)
    VALUES (${ctx.cutId}, ${ctx.runId}, ${kind}, ${ctx.planHash}, ${JSON.stringify(payload)}::jsonb)
    RETURNING id`);
  return String(row?.id);
}
