/**
 * The targets as anchors: each live run's leg-B row and each revert's row in a target's
 * `cutter_ledger` records the plan hash and the cut stream's head as the runner saw it. Read back,
 * they must agree with the log: a stream rewritten or truncated by whoever owns the store
 * disagrees with what the target kept.
 */
import { splitTable, type TargetSpec } from '../config/target.js';
import { connect, sql } from '../store/connection.js';
import type { EventStore, StoredEvent } from '../store/index.js';
import type { AnchorViolation } from './checkpoints.js';
import { CHECKPOINT_STREAM } from '../../events/checkpoint.js';
import { cutStreamId } from '../../events/streams.js';
import { fieldOf } from '../../events/index.js';

export interface LedgerCheck {
  target: string;
  rows: number;
  violations: AnchorViolation[];
}

/**
 * Checks every ledger row of `spec` against the log, and every leg B and revert the log records for
 * the targets in `sharing` (the names of every configured target whose table lives beside this
 * ledger: same database and schema) against the rows. A target without a ledger has nothing to check.
 */
export async function checkLedger(
  store: EventStore,
  spec: TargetSpec,
  sharing: string[] = [spec.name],
): Promise<LedgerCheck> {
  const rows = await ledgerRows(spec);
  const out: AnchorViolation[] = [];
  for (const row of rows) out.push(...(await rowViolations(store, spec.name, row)));
  out.push(...(await missingRows(store, spec.name, rows, sharing)));
  return { target: spec.name, rows: rows.length, violations: out };
}

interface LedgerRow {
  id: string;
  cut_id: string;
  run_id: string;
  kind: string;
  plan_hash: string;
  payload: Record<string, any>;
}

/** The target's ledger rows in order (none when it has no ledger table). */
async function ledgerRows(spec: TargetSpec): Promise<LedgerRow[]> {
  const { schema } = splitTable(spec.table);
  const db = connect(spec.url, { poolSize: 1, applicationName: 'cutter-replay' });
  try {
    const [have] = await db.query(sql`SELECT to_regclass(${`${schema}.cutter_ledger`}) IS NOT NULL AS ok`);
    if (!have?.ok) return [];
    return (await db.query(
      sql`SELECT id::text AS id, cut_id, run_id, kind, plan_hash, payload
        FROM ${sql.ident(schema, 'cutter_ledger')} ORDER BY id`,
    )) as LedgerRow[];
  } finally {
    await db.dispose();
  }
}

/**
 * One ledger row against the log: the cut exists with the row's plan hash, the stream head and the
 * checkpoint the runner saw are still there unchanged, and the log records the row's leg B or revert.
 */
async function rowViolations(store: EventStore, target: string, row: LedgerRow): Promise<AnchorViolation[]> {
  const out: AnchorViolation[] = [];
  const streamId = cutStreamId(row.cut_id);
  const events = await store.readStream(streamId);
  const flag = (version: number, message: string) =>
    out.push({
      streamId,
      version,
      type: row.kind,
      rule: 'ledger',
      message: `target ${target} ledger row ${row.id} (${row.kind}, run ${row.run_id}): ${message}`,
    });
  if (events.length === 0) {
    flag(0, 'the log has no such cut (stream deleted or hidden)');
    return out;
  }
  if (fieldOf(events[0]!.data, 'planHash') !== row.plan_hash)
    flag(
      1,
      `plan hash ${row.plan_hash.slice(0, 12)}… differs from the log's ` +
        `${String(fieldOf(events[0]!.data, 'planHash')).slice(0, 12)}…`,
    );
  const head = headProblem(row, events);
  if (head) flag(head.version, head.message);
  const checkpoint = await checkpointProblem(store, row);
  if (checkpoint) flag(events.length, checkpoint);
  const recorded = recordedInLog(row, events);
  if (!recorded)
    flag(
      events.length,
      `the log records no ${row.kind === 'leg_b' ? 'LegBRecorded' : 'CutReverted'} for this run (deleted, or a run ` +
        `interrupted before it was recorded: run it again to reconcile)`,
    );
  return out;
}

/** The other way: every leg B and revert the log records for these targets' cuts has its row. */
async function missingRows(
  store: EventStore,
  target: string,
  rows: LedgerRow[],
  sharing: string[],
): Promise<AnchorViolation[]> {
  const out: AnchorViolation[] = [];
  const ids = new Set(rows.map((r) => `${r.kind}|${r.kind === 'leg_b' ? r.id : r.run_id}`));
  const logged = await store.db.query(sql`
    SELECT e.stream_id, e.version, e.type, e.data->>'ledgerId' AS ledger_id, e.data->>'runId' AS run_id
    FROM cutter.events e JOIN cutter.events p ON p.stream_id = e.stream_id AND p.version = 1 AND p.type = 'CutPlanned'
    WHERE e.type IN ('LegBRecorded', 'CutReverted') AND p.data->>'target' = ANY(${sharing}::text[])`);
  for (const e of logged) {
    const key = e.type === 'LegBRecorded' ? `leg_b|${e.ledger_id}` : `revert|${e.run_id}`;
    if (!ids.has(key))
      out.push({
        streamId: e.stream_id,
        version: Number(e.version),
        type: e.type,
        rule: 'ledger',
        message:
          `target ${target}: the log records ${e.type} of run ${e.run_id}, but the target's ledger has no ` +
          `such row (deleted in the target)`,
      });
  }
  return out;
}

/** Whether the log records the row's leg B (same ledger id) or revert (same run); other kinds pass. */
function recordedInLog(row: LedgerRow, events: StoredEvent[]): boolean {
  return row.kind === 'leg_b'
    ? events.some(
        (e) =>
          e.type === 'LegBRecorded' &&
          fieldOf(e.data, 'runId') === row.run_id &&
          fieldOf(e.data, 'ledgerId') === row.id,
      )
    : row.kind === 'revert'
      ? events.some((e) => e.type === 'CutReverted' && fieldOf(e.data, 'runId') === row.run_id)
      : true;
}

/** The cut stream head the runner recorded must still be in the log with the same hash. */
function headProblem(row: LedgerRow, events: StoredEvent[]): { version: number; message: string } | undefined {
  const head = row.payload?.storeHead as { version?: number; hash?: string } | undefined;
  if (!head || typeof head.version !== 'number') return undefined;
  const e = events.find((x) => x.version === head.version);
  if (!e)
    return {
      version: head.version,
      message: `records the cut stream at version ${head.version}; the log ends at ${events.length} (truncated)`,
    };
  if (e.hash !== head.hash)
    return {
      version: head.version,
      message:
        `records hash ${String(head.hash).slice(0, 12)}… at version ${head.version}; the log holds ` +
        `${e.hash.slice(0, 12)}… (rewritten)`,
    };
  return undefined;
}

/** The checkpoint the runner saw: the store's checkpoints stream must still hold it, with the same root. */
async function checkpointProblem(store: EventStore, row: LedgerRow): Promise<string | undefined> {
  const cp = row.payload?.checkpoint as { version?: number; root?: string } | undefined;
  if (!cp || typeof cp.version !== 'number') return undefined;
  const [have] = await store.readStream(CHECKPOINT_STREAM, { fromVersion: cp.version, toVersion: cp.version });
  if (!have) return `names checkpoint ${cp.version}; the store's checkpoints stream no longer holds it (truncated)`;
  if (fieldOf(have.data, 'root') !== cp.root)
    return (
      `names checkpoint ${cp.version} with root ${String(cp.root).slice(0, 12)}…; ` +
      'the store holds another (rewritten)'
    );
  return undefined;
}
