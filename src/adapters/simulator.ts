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
    for await (const b of changes()) {
      const c = await compareBatch(tx, spec, b.json, { samples: 0, pre: true });
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
  for await (const b of changes()) {
    const c = await compareBatch(tx, spec, b.json, { samples: SAMPLES, pre: true });
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
