/**
 * A live cut of N rows through all five phases (encryption and verification included), timed per
 * phase, beside a raw `INSERT … ON CONFLICT` upsert of the same rows via unnest into an identical
 * table on the same server. Also reports the process's peak RSS, and per phase the runner's CPU
 * and — when the server runs on this machine and its backends' /proc entries are readable — the
 * server's (every backend of the run's two databases): steadier than wall time on a shared machine.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { approveCut } from '../../src/cuts/approve.js';
import { planCut } from '../../src/cuts/plan.js';
import { generateBackupKey } from '../../src/crypto/backup-keys.js';
import { dryRun } from '../../src/runner/dry-run.js';
import { runLive } from '../../src/runner/live.js';
import { connect, sql } from '../../src/store/connection.js';
import { openSession } from '../../src/workspace/session.js';
import { recordGenesis } from '../../src/workspace/governed.js';
import { timeRow, type BenchRow } from './measure.js';
import { serverCpu } from './server-cpu.js';

export async function benchLiveCut(url: string, opts: { quick: boolean; rows?: number }): Promise<BenchRow[]> {
  const n = opts.rows ?? (opts.quick ? 20_000 : 100_000);
  const admin = connect(url, { poolSize: 1 });
  const tag = randomUUID().slice(0, 8);
  const storeDb = `cutter_bench_store_${tag}`;
  const targetDb = `cutter_bench_target_${tag}`;
  await admin.query(sql`CREATE DATABASE ${sql.ident(storeDb)}`);
  await admin.query(sql`CREATE DATABASE ${sql.ident(targetDb)}`);
  const at = (db: string) => Object.assign(new URL(url), { pathname: `/${db}` }).toString();
  const target = connect(at(targetDb), { poolSize: 2 });
  try {
    for (const table of ['documents', 'floor_documents']) {
      await target.query(
        sql`CREATE TABLE ${sql.ident(table)} (id text PRIMARY KEY, title text NOT NULL, body text NOT NULL,
          status text NOT NULL DEFAULT 'draft')`,
      );
      await target.query(
        sql`INSERT INTO ${sql.ident(table)} (id, title, body)
          SELECT 'R-' || lpad(g::text, 7, '0'), 'title ' || g, 'body ' || g FROM generate_series(1, ${n / 2}) g`,
      );
    }
    const row = (i: number) => ({
      id: `R-${String(i + 1).padStart(7, '0')}`,
      title: `title v2 ${i}`,
      body: `body v2 ${i} — revised`,
    });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutter-bench-live-'));
    const keys = path.join(dir, 'keys');
    const backup = await generateBackupKey('backup', { dir: keys });
    const env = { ...process.env, CUTTER_STORE_URL: at(storeDb), CUTTER_KEYS_DIR: keys, CUTTER_EXECUTION_ENABLED: '1' };
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
        targets: {
          t: {
            url: at(targetDb),
            table: 'public.documents',
            key: ['id'],
            columns: ['title', 'body'],
            lifecycle: { column: 'status', value: 'published' },
          },
        },
        trust: { root },
        backup: { recipients: [backup.publicKeyPath] },
        execution: { enabled: true },
      }),
    );
    // A large cut names a change file (one JSON change per line), streamed everywhere.
    const out = createWriteStream(path.join(dir, 'changes.ndjson'));
    for (let i = 0; i < n; i++) if (!out.write(`${JSON.stringify({ upsert: row(i) })}\n`)) await once(out, 'drain');
    await new Promise((resolve) => out.end(resolve));
    writeFileSync(
      path.join(dir, 'plan.json'),
      JSON.stringify({ id: 'bench', target: 't', author: 'erin', reason: 'bench', changesFile: 'changes.ndjson' }),
    );
    const as = async <T>(actor: string, fn: (s: ReturnType<typeof openSession>) => Promise<T>) => {
      const s = openSession({ cwd: dir, as: actor, env });
      try {
        return await fn(s);
      } finally {
        await s.close();
      }
    };
    await as('erin', (s) => planCut(s, path.join(dir, 'plan.json')));
    await as('alice', (s) => approveCut(s, 'bench'));
    await as('bob', (s) => approveCut(s, 'bench'));
    await as('erin', (s) => dryRun(s, 'bench'));
    const marks: Record<string, number> = {};
    const cpuAt: Record<string, { runner: number; server: number | undefined }> = {};
    // A checkpoint before the cut and before its floor: both start with no dirty pages to write and
    // a fresh WAL segment, so neither pays for the setup's writes (or the other's) halfway through.
    // Without it the same build's leg A varied 1,160–1,730 ms with where checkpoints fell; with it
    // (four interleaved pairs) the two builds compared were 1,246–1,730 and 1,390–1,731 ms.
    // Needs superuser or pg_checkpoint; skipped (and said) where the role lacks it.
    const checkpoint = () =>
      admin.query(sql`CHECKPOINT`).then(
        () => true,
        () => false,
      );
    const checkpointed = await checkpoint();
    const server = serverCpu(admin, [storeDb, targetDb]);
    await server.start();
    const t0 = performance.now();
    // This process's CPU (the runner's share) and the server's: steadier than wall time on a loaded machine.
    const cpu0 = process.cpuUsage();
    const markCpu = (phase: string) => {
      const c = process.cpuUsage(cpu0);
      cpuAt[phase] = { runner: (c.user + c.system) / 1000, server: server.read() };
    };
    markCpu('start');
    await as('erin', (s) =>
      runLive(s, 'bench', {
        atBoundary: async (phase) => {
          marks[phase] = performance.now();
          // Backends connected since the last boundary, counted from their start, before the mark.
          await server.list();
          markCpu(phase);
        },
      }),
    );
    const total = performance.now() - t0;
    markCpu('end');
    server.stop();
    const cpu = process.cpuUsage(cpu0);
    const legA = (marks.legB ?? 0) - (marks.legA ?? 0);
    const rows = Array.from({ length: n }, (_, i) => row(i));
    await checkpoint();
    const f0 = performance.now();
    await target.query(sql`INSERT INTO floor_documents (id, title, body)
      SELECT * FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.title)}::text[],
      ${rows.map((r) => r.body)}::text[])
      ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body`);
    const floor = performance.now() - f0;
    const names = ['backup', 'legA', 'legB', 'verify', 'enact'];
    const phases = names
      .map((p, i) => {
        const next = names[i + 1] ?? 'end';
        const wall = Math.round(((names[i + 1] ? marks[names[i + 1]!] : t0 + total) ?? 0) - (marks[p] ?? 0));
        return `${p} ${wall} ms${cpuNote(cpuAt[p], cpuAt[next])}`;
      })
      .join(', ');
    const before = `before the phases ${Math.round((marks.backup ?? t0) - t0)} ms${cpuNote(cpuAt.start, cpuAt.backup)}`;
    return [
      timeRow(
        `live cut ${n.toLocaleString('en-US')} rows: leg A`,
        legA,
        floor,
        'ms',
        `floor: raw INSERT … ON CONFLICT via unnest; goal ≤ 1.5×${checkpointed ? '; CHECKPOINT before the cut and the floor' : '; no CHECKPOINT (role lacks it)'}`,
      ),
      timeRow(
        `live cut ${n.toLocaleString('en-US')} rows: whole live run`,
        total,
        floor,
        'ms',
        `goal ≤ 4×; ${before}, ${phases}; runner CPU ${Math.round((cpu.user + cpu.system) / 1000)} ms` +
          (cpuAt.end?.server === undefined ? '' : `, server CPU ${Math.round(cpuAt.end.server)} ms`) +
          ' (per phase: runner + server CPU)',
      ),
      {
        name: 'peak RSS of this bench process',
        value: process.resourceUsage().maxRSS / 1024,
        unit: 'MB',
        floor: 0,
        ratio: 0,
        note:
          `this bench process after a ${n.toLocaleString('en-US')}-row cut (it also holds the other sections' ` +
          `data); per CLI process: the rss section (npm run large-cut)`,
      },
    ];
  } finally {
    await target.dispose();
    await admin.query(sql`DROP DATABASE ${sql.ident(storeDb)} WITH (FORCE)`);
    await admin.query(sql`DROP DATABASE ${sql.ident(targetDb)} WITH (FORCE)`);
    await admin.dispose();
  }
}

/** ` (runner + server ms CPU)` between two marks; the server's only when it was read. */
function cpuNote(
  from: { runner: number; server: number | undefined } | undefined,
  to: { runner: number; server: number | undefined } | undefined,
): string {
  if (!from || !to) return '';
  const runner = Math.round(to.runner - from.runner);
  if (from.server === undefined || to.server === undefined) return ` (${runner} ms runner CPU)`;
  return ` (${runner} + ${Math.round(to.server - from.server)})`;
}
