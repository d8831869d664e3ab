/**
 * The dry-run simulator: the same five phases over the target read inside one READ ONLY
 * transaction (PostgreSQL itself refuses any write there), batch by batch like the live adapter and
 * with the same SQL comparisons, so its expected post-image hash is the one a live verify must
 * reach. It produces the diff (exact counts, the first rows of each kind), and non-mutation
 * evidence: the pre-image hash read before and after, in two separate READ ONLY transactions.
 */
import { hashOf } from '../../events/canonical.js';
import type { TargetSpec } from '../config/target.js';
import { IsolationLevel, connect, type ConnectionPool, type Transaction } from '../store/connection.js';
import type { ChangeSource } from '../config/changes.js';
import { ImageDigest, compareBatch, type Comparison } from './images.js';
import { refuseDollarColumns } from './row-sql.js';
import { splitTable } from '../config/target.js';
import { InvalidInputError } from '../errors.js';
import { sql } from '../store/connection.js';
import type { DryRunDiff, OnRows, PhaseContext, Simulation, Simulator } from './port.js';
import { SIM_EXECUTOR } from '../../events/index.js';

export const SAMPLES = 100;

/**
 * The dry-run simulator: reads the target inside READ ONLY, REPEATABLE READ transactions, computes
 * the five phases' digests and the diff in memory, and proves non-mutation by hashing the pre-image
 * before and after. Cannot write: it holds no write path.
 */
export function createSimulator(spec: TargetSpec, changes: ChangeSource): Simulator {
  const db: ConnectionPool = connect(spec.url, { poolSize: 1, applicationName: 'cutter-simulator' });
  const readOnly: ReadOnly = (fn) => db.tx(fn, { readOnly: true, isolationLevel: IsolationLevel.REPEATABLE_READ });
  const preImage = () => readPreImage(readOnly, spec, changes);
  return {
    executor: SIM_EXECUTOR,
    precheck: preImage,
    async simulate(ctx, opts: { onRows?: OnRows } = {}) {
      const run = await readOnly((tx) => diffRows(tx, spec, changes, opts));
      const after = await preImage();
      return {
        phases: simulatedPhases(ctx, spec, run),
        diff: run.diff,
        expectedPostImageHash: run.expectedPostImageHash,
        nonMutation: { preImageHashBefore: run.preImageHash, preImageHashAfter: after.preImageHash },
      };
    },
    close: () => db.dispose(),
  };
}

type ReadOnly = <T>(fn: (tx: Transaction) => Promise<T>) => Promise<T>;

/** The planned keys' pre-image hash and how many of them exist now (one READ ONLY transaction). */
function readPreImage(readOnly: ReadOnly, spec: TargetSpec, changes: ChangeSource) {
  return readOnly(async (tx) => {
    await refuseDollarColumns(tx, spec);
    const chain = new ImageDigest();
    let existing = 0;
    let planned = 0;
    const notNull = await notNullColumns(tx, spec);
    for await (const b of changes()) {
      await refuseNulls(tx, spec, notNull, b.json, planned);
      const c = await fitting(spec, () => compareBatch(tx, spec, b.json, { samples: 0, pre: true }));
      chain.add(c.pre);
      existing += c.differs + c.same + c.present;
      planned += b.count;
    }
    return { preImageHash: chain.digest(), existing, absent: planned - existing };
  });
}

/** The diff of the plan against the table (counts, and the first SAMPLES rows of each kind) and its hashes. */
async function diffRows(tx: Transaction, spec: TargetSpec, changes: ChangeSource, opts: { onRows?: OnRows }) {
  await refuseDollarColumns(tx, spec);
  const pre = new ImageDigest();
  const expected = new ImageDigest();
  const diff: DryRunDiff = {
    counts: { inserts: 0, updates: 0, deletes: 0, unchanged: 0 },
    inserts: [],
    updates: [],
    deletes: [],
  };
  let seen = 0;
  const notNull = await notNullColumns(tx, spec);
  for await (const b of changes()) {
    await refuseNulls(tx, spec, notNull, b.json, seen);
    seen += b.count;
    const c = await fitting(spec, () => compareBatch(tx, spec, b.json, { samples: SAMPLES, pre: true }));
    pre.add(c.pre);
    expected.add(c.expected);
    diff.counts.inserts += c.missing;
    diff.counts.updates += c.differs;
    diff.counts.deletes += c.present;
    diff.counts.unchanged += c.same + c.absent;
    for (const s of c.samples) addSample(diff, s);
    opts.onRows?.(b.count);
  }
  return { preImageHash: pre.digest(), expectedPostImageHash: expected.digest(), diff };
}

/** One sample row into the diff, while its kind has fewer than SAMPLES. */
function addSample(diff: DryRunDiff, s: Comparison['samples'][number]): void {
  if (s.kind === 'missing' && diff.inserts.length < SAMPLES) diff.inserts.push(s.planned!);
  if (s.kind === 'present' && diff.deletes.length < SAMPLES) diff.deletes.push(s.key);
  if (s.kind === 'differs' && diff.updates.length < SAMPLES) {
    diff.updates.push({
      key: s.key,
      changes: s.columns.map((col) => ({
        column: col,
        from: s.current?.[col] ?? null,
        to: s.planned?.[col] ?? null,
      })),
    });
  }
}

/** The digest each of the five phases would record, simulated. */
function simulatedPhases(
  ctx: PhaseContext,
  spec: TargetSpec,
  run: { preImageHash: string; expectedPostImageHash: string },
): Simulation['phases'] {
  return [
    {
      phase: 'backup',
      digest: hashOf({ cutId: ctx.cutId, planHash: ctx.planHash, preImageHash: run.preImageHash }),
    },
    { phase: 'legA', digest: run.expectedPostImageHash },
    {
      phase: 'legB',
      digest: hashOf({ cutId: ctx.cutId, runId: ctx.runId, planHash: ctx.planHash, kind: 'leg_b' }),
    },
    {
      phase: 'verify',
      digest: hashOf({ expected: run.expectedPostImageHash, columns: [...spec.key, ...spec.columns] }),
    },
    { phase: 'enact', digest: hashOf({ lifecycle: spec.lifecycle ?? null, expected: run.expectedPostImageHash }) },
  ];
}

/**
 * The table's NOT NULL content columns: an upsert that sets one to null would fail the live write
 * in leg A, and a failed phase ends the cut. (Keys are never null: the plan refuses that.)
 */
async function notNullColumns(tx: Transaction, spec: TargetSpec): Promise<string[]> {
  const { schema, table } = splitTable(spec.table);
  const rows = await tx.query(sql`
    SELECT a.attname::text AS col FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${schema} AND c.relname = ${table} AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attnotnull AND a.attname::text = ANY (${spec.columns}::text[])
    ORDER BY a.attnum`);
  return rows.map((r: { col: string }) => r.col);
}

/**
 * Refuses (InvalidInputError, exit 2) the first upsert of a batch that sets one of `notNull` to
 * null, naming the change (1-based, counting from `before` + 1) and the column. Read at plan time
 * and by every dry run, on the batch's JSON (no row typed); nothing to read when `notNull` is empty
 * or the batch's text holds no `null`.
 */
async function refuseNulls(tx: Transaction, spec: TargetSpec, notNull: string[], json: string, before: number) {
  // Most batches hold no null at all: the text says so without asking the server (a few ms a batch).
  if (notNull.length === 0 || !json.includes('null')) return;
  const [hit] = await tx.query(sql`
    SELECT e.ordinality AS ord, k.col FROM jsonb_array_elements(${json}::jsonb) WITH ORDINALITY e,
      unnest(${notNull}::text[]) WITH ORDINALITY k(col, n)
    WHERE e.value->'upsert'->k.col = 'null'::jsonb ORDER BY e.ordinality, k.n LIMIT 1`);
  if (hit)
    throw new InvalidInputError(
      `change ${before + Number(hit.ord)} (upsert): ${hit.col} is null, but ${spec.table}.${hit.col} is NOT NULL`,
    );
}

/**
 * `fn`, with PostgreSQL's refusals of the plan's values or of the target's definition turned into
 * InvalidInputError (exit 2) in one line: a value that does not fit its column's type (class 22:
 * "invalid input syntax for type integer", out of range, …), a configured column or table that does
 * not exist. Anything else is thrown as it is.
 */
async function fitting<T>(spec: TargetSpec, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const first = String((err as Error).message ?? err).split('\n')[0] ?? '';
    if (typeof code === 'string' && code.startsWith('22'))
      throw new InvalidInputError(`changes: a planned value does not fit ${spec.table}: ${first}`);
    if (code === '42703')
      throw new InvalidInputError(`targets.${spec.name}.columns: ${first.replace(/"?\$c"?\./g, '')} in ${spec.table}`);
    if (code === '42704' || code === '42P01')
      throw new InvalidInputError(`targets.${spec.name}.table: ${spec.table} does not exist (${first})`);
    throw err;
  }
}
