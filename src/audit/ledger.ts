/**
 * The targets as anchors: each live run's leg-B row and each revert's row in a target's
 * `cutter_ledger` records the plan hash and the cut stream's head as the runner saw it. Read back,
 * they must agree with the log: a stream rewritten or truncated by whoever owns the store
 * disagrees with what the target kept.
 */
import { splitTable, type TargetSpec } from '../config/target.js';
import { connect, sql } from '../store/connection.js';
import type { EventStore } from '../store/index.js';
import type { AnchorViolation } from './checkpoints.js';
import { CHECKPOINT_STREAM } from '../../events/checkpoint.js';
import { cutStreamId } from '../../events/streams.js';
import { fieldOf } from '../../events/index.js';

export interface LedgerCheck {
  target: string;
  rows: number;
  violations: AnchorViolation[];
}

/** Checks every ledger row of `spec` against the log. A target without a ledger has nothing to check. */
/** `sharing`: the names of every configured target whose table lives beside this ledger (same database and schema). */
export async function checkLedger(
  store: EventStore,
  spec: TargetSpec,
  sharing: string[] = [spec.name],
): Promise<LedgerCheck> {
  const { schema } = splitTable(spec.table);
  const db = connect(spec.url, { poolSize: 1, applicationName: 'cutter-replay' });
  const out: AnchorViolation[] = [];
  let rows: {
    id: string;
    cut_id: string;
    run_id: string;
    kind: string;
    plan_hash: string;
    payload: Record<string, any>;
  }[] = [];
  try {
    const [have] = await db.query(sql`SELECT to_regclass(${`${schema}.cutter_ledger`}) IS NOT NULL AS ok`);
    if (have?.ok)
      rows = await db.query(
        sql`SELECT id::text AS id, cut_id, run_id, kind, plan_hash, payload FROM ${sql.ident(schema, 'cutter_ledger')} ORDER BY id`,
      );
  } finally {
    await db.dispose();
  }
  for (const row of rows) {
    const streamId = cutStreamId(row.cut_id);
    const events = await store.readStream(streamId);
    const flag = (version: number, message: string) =>
      out.push({
        streamId,
        version,
        type: row.kind,
        rule: 'ledger',
        message: `target ${spec.name} ledger row ${row.id} (${row.kind}, run ${row.run_id}): ${message}`,
      });
    if (events.length === 0) {
      flag(0, 'the log has no such cut (stream deleted or hidden)');
      continue;
    }
    if (fieldOf(events[0]!.data, 'planHash') !== row.plan_hash)
      flag(
        1,
        `plan hash ${row.plan_hash.slice(0, 12)}… differs from the log's ${String(fieldOf(events[0]!.data, 'planHash')).slice(0, 12)}…`,
      );
    const head = row.payload?.storeHead as { version?: number; hash?: string } | undefined;
    if (head && typeof head.version === 'number') {
      const e = events.find((x) => x.version === head.version);
      if (!e)
        flag(
          head.version,
          `records the cut stream at version ${head.version}; the log ends at ${events.length} (truncated)`,
        );
      else if (e.hash !== head.hash)
        flag(
          head.version,
          `records hash ${String(head.hash).slice(0, 12)}… at version ${head.version}; the log holds ${e.hash.slice(0, 12)}… (rewritten)`,
        );
    }
    // The checkpoint the runner saw: the store's checkpoints stream must still hold it.
    const cp = row.payload?.checkpoint as { version?: number; root?: string } | undefined;
    if (cp && typeof cp.version === 'number') {
      const [have] = await store.readStream(CHECKPOINT_STREAM, { fromVersion: cp.version, toVersion: cp.version });
      if (!have)
        flag(
          events.length,
          `names checkpoint ${cp.version}; the store's checkpoints stream no longer holds it (truncated)`,
        );
      else if (fieldOf(have.data, 'root') !== cp.root)
        flag(
          events.length,
          `names checkpoint ${cp.version} with root ${String(cp.root).slice(0, 12)}…; the store holds another (rewritten)`,
        );
    }
    const recorded =
      row.kind === 'leg_b'
        ? events.some(
            (e) =>
              e.type === 'LegBRecorded' &&
              fieldOf(e.data, 'runId') === row.run_id &&
              fieldOf(e.data, 'ledgerId') === row.id,
          )
        : row.kind === 'revert'
          ? events.some((e) => e.type === 'CutReverted' && fieldOf(e.data, 'runId') === row.run_id)
          : true;
    if (!recorded)
      flag(
        events.length,
        `the log records no ${row.kind === 'leg_b' ? 'LegBRecorded' : 'CutReverted'} for this run (deleted, or a run interrupted before it was recorded: run it again to reconcile)`,
      );
  }
  // And the other way: every leg B and revert the log records for this target's cuts has its row.
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
        message: `target ${spec.name}: the log records ${e.type} of run ${e.run_id}, but the target's ledger has no such row (deleted in the target)`,
      });
  }
  return { target: spec.name, rows: rows.length, violations: out };
}
