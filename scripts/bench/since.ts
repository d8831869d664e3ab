/**
 * Replay after a kept checkpoint (issue #18): a governed store of signed, approved and dry-run cuts
 * (10 events each) — P cuts, checkpoint K1, S cuts, checkpoint K2, S more cuts — replayed in full
 * and after each checkpoint. The floor of a replay after a checkpoint is the full replay's time
 * scaled to the events after it: a ratio near 1 at both checkpoints is a cost proportional to the
 * events after the checkpoint (what is left is one index probe per stream for the heads).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { toStorable, type CutPlan } from '../../events/index.js';
import { MACHINE_VERSION } from '../../machines/cut.js';
import { recordCheckpoint } from '../../src/audit/checkpoints.js';
import { replayStore, type ReplayReport } from '../../src/audit/replay.js';
import { signEvents } from '../../src/governance/authority.js';
import { connect, sql } from '../../src/store/connection.js';
import { openSession } from '../../src/workspace/session.js';
import { recordGenesis } from '../../src/workspace/governed.js';
import { forgedApprovedCut } from '../../test/support/forge.js';
import type { TestWorkspace } from '../../test/support/workspace.js';
import { defaultVerifyThreads } from '../../src/crypto/verify-pool.js';
import { ed25519Ceilings } from './ceiling.js';
import { throughputRow, timeRow, type BenchRow } from './measure.js';
import { serverCpu } from './server-cpu.js';

export async function benchReplaySince(url: string, opts: { quick: boolean }): Promise<BenchRow[]> {
  const [prefixCuts, suffixCuts] = opts.quick ? [400, 100] : [2000, 500];
  const admin = connect(url, { poolSize: 1 });
  const storeDb = `cutter_bench_since_${randomUUID().slice(0, 8)}`;
  await admin.query(sql`CREATE DATABASE ${sql.ident(storeDb)}`);
  const storeUrl = Object.assign(new URL(url), { pathname: `/${storeDb}` }).toString();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutter-bench-since-'));
  const keys = path.join(dir, 'keys');
  const env = { ...process.env, CUTTER_STORE_URL: storeUrl, CUTTER_KEYS_DIR: keys };
  const sessions: ReturnType<typeof openSession>[] = [];
  const as = (actor: string) => {
    const s = openSession({ cwd: dir, as: actor, env });
    sessions.push(s);
    return s;
  };
  try {
    const { root } = await recordGenesis({
      cwd: dir,
      env,
      keysDir: keys,
      admin: 'root',
      members: { alice: ['approver', 'dba'], bob: ['approver', 'dba'], erin: ['author', 'operator'], root: ['admin'] },
      policy: { maxRows: 1_000_000, requiredApprovals: 2, approvalTtl: '1h', requireDryRun: true },
    });
    writeFileSync(
      path.join(dir, 'cutter.config.yaml'),
      stringify({
        targets: { t: { url: storeUrl, table: 'public.documents', key: ['id'], columns: ['title'] } },
        trust: { root },
      }),
    );
    const [erin, alice, bob] = await Promise.all(['erin', 'alice', 'bob'].map((a) => as(a).authority()));
    const store = await as('erin').store();
    const ws = { keys } as TestWorkspace; // forgedApprovedCut signs approvals with the keys in ws.keys
    let n = 0;
    const cuts = async (count: number) => {
      for (let i = 0; i < count; i += 8)
        await Promise.all(
          Array.from({ length: Math.min(8, count - i) }, async () => {
            const id = `c${String(n++).padStart(6, '0')}`;
            const plan: CutPlan = {
              id,
              target: `t${n % 50}`,
              author: 'erin',
              reason: 'bench',
              changes: [{ upsert: { id: 'KB-0001', title: 'fixed' } }],
            };
            const f = await forgedApprovedCut(ws, plan);
            const st = f.events.map((e) => toStorable(e, { machineVersion: MACHINE_VERSION }));
            const stream = `cut-${id}`;
            const signed = [
              ...(await signEvents(erin!, stream, 0, st.slice(0, 1))),
              ...(await signEvents(alice!, stream, 1, st.slice(1, 2))),
              ...(await signEvents(bob!, stream, 2, st.slice(2, 3))),
              ...(await signEvents(erin!, stream, 3, st.slice(3))),
            ];
            await store.append(stream, signed, { expectedVersion: 'no_stream' });
          }),
        );
    };
    await cuts(prefixCuts);
    const k1 = (await recordCheckpoint(as('alice'))).file;
    await cuts(suffixCuts);
    const k2 = (await recordCheckpoint(as('alice'))).file;
    await cuts(suffixCuts);
    const timed = async (o: Parameters<typeof replayStore>[2]): Promise<[number, ReplayReport]> => {
      const t = performance.now();
      const r = await replayStore(store, undefined, { trustRoot: root, ...o });
      if (!r.ok) throw new Error(`bench: replay found violations: ${JSON.stringify(r.violations.slice(0, 3))}`);
      return [performance.now() - t, r];
    };
    // The full replay's CPU: this process (every thread: the fold and the verifying workers) and the
    // server's backends of the store database, when the server runs here.
    const server = serverCpu(admin, [storeDb]);
    await server.start();
    const cpu0 = process.cpuUsage();
    const [full, all] = await timed({});
    const cpu = process.cpuUsage(cpu0);
    await server.list();
    const serverMs = server.read();
    server.stop();
    const [t1, r1] = await timed({ since: k1 });
    const [t2, r2] = await timed({ since: k2 });
    const perEvent = full / all.events;
    const row = (t: number, r: ReplayReport, k: string) =>
      timeRow(
        `replay --all --since-checkpoint ${k}: ${r.events.toLocaleString('en-US')} events after it, ` +
          `${r.since!.unchangedEvents.toLocaleString('en-US')} before`,
        t,
        perEvent * r.events,
        'ms',
        `floor: the full replay's ${Math.round(full).toLocaleString('en-US')} ms for ` +
          `${all.events.toLocaleString('en-US')} events, scaled to the events after it; ~1× = proportional`,
      );
    // The whole replay against the Ed25519 ceiling of the cores it verifies on. Each cut here has
    // 10 signed events and 2 approvals whose own signatures are verified too: 1.2 Ed25519
    // verifications per event, so the rate comparable to the ceiling is events/s × 1.2.
    const threads = defaultVerifyThreads();
    const ceiling = await ed25519Ceilings(threads, opts.quick ? 2_000 : 10_000);
    // What 0.8x of the all-cores ceiling leaves per event: at that rate the cores' CPU time per
    // event, less the Ed25519 share (1.2 bare verifications at one core's rate). When the server
    // shares the cores, its reads come out of the same budget.
    const perEventUs = (us: number) => `${Math.round(us)} µs`;
    const verifyUs = (1.2 * 1e6) / (ceiling.multiplied / threads);
    const allowedUs = (os.availableParallelism() * 1e6) / ((0.8 * ceiling.allCores) / 1.2);
    const cpuBudget =
      `CPU per event: this process ${perEventUs((cpu.user + cpu.system) / all.events)}` +
      (serverMs === undefined ? '' : `, server ${perEventUs((serverMs * 1000) / all.events)}`) +
      `, of which Ed25519 ~${perEventUs(verifyUs)}; 0.8x of the all-cores ceiling allows ` +
      `${perEventUs(allowedUs)} per event on ${os.availableParallelism()} core(s), ${perEventUs(allowedUs - verifyUs)} beside Ed25519`;
    const verifications = (all.events * 1.2) / (full / 1000);
    const whole = (floor: number, against: string, what: string) =>
      throughputRow(
        `replay --all, every signature verified (${all.events.toLocaleString('en-US')} events), vs ${against}`,
        verifications,
        floor,
        'verif./s',
        `floor: ${what}; 1.2 verifications per event (each event's signature, each approval's); ` +
          `the whole replay: reads, chain, fold, trust, projections; ${cpuBudget}`,
      );
    return [
      whole(ceiling.multiplied, 'the ceiling', `the Ed25519 ceiling, one core's bare crypto.verify x ${threads}`),
      whole(ceiling.allCores, 'all cores at once', `bare crypto.verify on ${threads} core(s) at the same moment`),
      row(t1, r1, 'K1'),
      row(t2, r2, 'K2'),
    ];
  } finally {
    for (const s of sessions) await s.close();
    await admin.query(sql`DROP DATABASE ${sql.ident(storeDb)} WITH (FORCE)`);
    await admin.dispose();
  }
}
