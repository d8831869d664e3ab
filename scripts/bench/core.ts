/**
 * Replay and rebuild: a pure fold of many cut events through the machine (beside a trivial reducer
 * over the same events), and `projections rebuild` of a store (beside a plain SELECT of the rows).
 */
import { randomUUID } from 'node:crypto';
import { MACHINE_VERSION } from '../../machines/cut.js';
import { toStorable } from '../../events/index.js';
import { replay } from '../../src/domain/index.js';
import { rebuildProjections } from '../../src/projections/rebuild.js';
import { connect, sql } from '../../src/store/connection.js';
import { openStore } from '../../src/store/index.js';
import { approval, dryRun, fullLive, planned, revertStart, reverted } from '../../test/support/cut-events.js';
import { throughputRow, type BenchRow } from './measure.js';

/**
 * A completed-then-reverted cut (20 events); `k` varies the approval times (by the second within
 * the approvals' hour, then by the millisecond) so signatures differ per `k`.
 */
export const benchHistory = (k = 0) =>
  [
    planned(),
    approval('alice', -(k % 3000) - Math.floor(k / 3000) / 1000),
    approval('bob', -(k % 3000) - 1 - Math.floor(k / 3000) / 1000),
    ...dryRun(),
    ...fullLive(),
    revertStart(),
    reverted(),
  ].map((e, i) => ({
    ...toStorable(e, { machineVersion: MACHINE_VERSION }),
    version: i + 1,
  }));

export async function benchReplay(opts: { quick: boolean; events?: number }): Promise<BenchRow[]> {
  const distinct = Array.from({ length: 400 }, (_, k) => benchHistory(k));
  const stream = distinct[0]!;
  const n = opts.events ?? (opts.quick ? 100_000 : 1_000_000);
  const streams = Math.ceil(n / stream.length);
  let t = performance.now();
  let violations = 0;
  for (let i = 0; i < streams; i++) violations += replay(distinct[i % distinct.length]!).violations.length;
  const fold = (streams * stream.length) / ((performance.now() - t) / 1000);
  t = performance.now();
  const counts = new Map<string, number>();
  for (let i = 0; i < streams; i++)
    for (const e of distinct[i % distinct.length]!)
      counts.set(e.type, (counts.get(e.type) ?? 0) + JSON.stringify(e.data).length);
  const floor = (streams * stream.length) / ((performance.now() - t) / 1000);
  // The same fold over only 20 distinct histories: their 40 signatures stay in the verification
  // memo, so this is the fold without Ed25519 (what is left once each signature is verified once).
  t = performance.now();
  for (let i = 0; i < streams; i++) violations += replay(distinct[i % 20]!).violations.length;
  const warm = (streams * stream.length) / ((performance.now() - t) / 1000);
  if (violations) throw new Error('bench: replay found violations in a legal history');
  return [
    throughputRow(
      `replay: pure fold of ${(streams * stream.length).toLocaleString('en-US')} events`,
      fold,
      floor,
      'events/s',
      'floor: a trivial reducer over the same events; goal ≥ 200,000/s',
    ),
    throughputRow(
      `replay: same fold, signatures already verified (memo warm)`,
      warm,
      floor,
      'events/s',
      'the fold without Ed25519 verification; reported, not the goal figure',
    ),
  ];
}

export async function benchRebuild(url: string, opts: { quick: boolean }): Promise<BenchRow[]> {
  const n = opts.quick ? 20_000 : 200_000;
  const admin = connect(url, { poolSize: 1 });
  const dbName = `cutter_bench_${randomUUID().slice(0, 8)}`;
  await admin.query(sql`CREATE DATABASE ${sql.ident(dbName)}`);
  const u = new URL(url);
  u.pathname = `/${dbName}`;
  const store = await openStore(u.toString(), { poolSize: 8 });
  try {
    // Every stream its own approvals (as in a real store): no verification is ever repeated.
    const streams = Math.ceil(n / benchHistory(0).length);
    const distinct = Array.from({ length: streams }, (_, k) => benchHistory(k));
    for (let i = 0; i < streams; i += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, streams - i) }, (_, j) =>
          store.append(
            `cut-${randomUUID()}`,
            distinct[(i + j) % distinct.length]!.map(({ type, data, metadata }) => ({ type, data, metadata })),
          ),
        ),
      );
    }
    // The slow, obvious path first (each approval verified by the machine's guard in the fold),
    // then the default (approvals verified on worker threads ahead of the fold).
    let t = performance.now();
    const slow = await rebuildProjections(store.db, { verifyThreads: 0 });
    const serial = slow.events / ((performance.now() - t) / 1000);
    t = performance.now();
    const r = await rebuildProjections(store.db);
    const rebuild = r.events / ((performance.now() - t) / 1000);
    t = performance.now();
    const rows = await store.db.query(
      sql`SELECT stream_id, version, type, data, metadata FROM cutter.events ORDER BY stream_id, version`,
    );
    const floor = rows.length / ((performance.now() - t) / 1000);
    return [
      throughputRow(
        `projections rebuild: ${r.events.toLocaleString('en-US')} events`,
        rebuild,
        floor,
        'events/s',
        `floor: plain SELECT of the same rows; goal ≥ 50,000/s; ${r.verifiedAhead.toLocaleString('en-US')} ` +
          `approvals verified on worker threads (cores − 1)`,
      ),
      throughputRow(
        `projections rebuild, approvals verified in the fold (slow path)`,
        serial,
        floor,
        'events/s',
        'the same rebuild with verifyThreads: 0; reported beside the default',
      ),
    ];
  } finally {
    await store.close();
    await admin.query(sql`DROP DATABASE ${sql.ident(dbName)} WITH (FORCE)`);
    await admin.dispose();
  }
}
