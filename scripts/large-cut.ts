/**
 * `npm run large-cut [-- --rows 1000000 --max-rss-mb 400]`: a large cut through the real CLI, each
 * step a separate `cutter` process whose peak RSS (VmHWM) is sampled from /proc: plan (a change
 * file), two approvals, dry run, live run, replay, live revert. Checks the target after the cut and
 * that the revert restores it exactly, prints a table of wall time and peak RSS per step, and exits
 * 1 when a check fails or any step's peak RSS exceeds the ceiling (the bounded-memory promise).
 * The server is CUTTER_BENCH_URL / DATABASE_URL when set, else an embedded PostgreSQL. A `cutter
 * status` runs first: a trivial command's peak, the floor the steps are read against. `--json`
 * prints the steps as one JSON line after the table (the bench's peak RSS section reads it).
 * `--keep` leaves the two databases and the workspace (printed at the end) to run steps again by
 * hand; `--skip-revert` stops before the revert (with `--keep`: a cut ready to revert).
 * `--wide-kb N` gives every existing row N kB more in a column the cut does not manage (`html`): the
 * backup and the revert then carry wide rows (a table of documents), the changes stay small.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { generateBackupKey } from '../src/crypto/backup-keys.js';
import { recordGenesis } from '../src/workspace/governed.js';
import { connect, sql } from '../src/store/connection.js';
import { acquireEmbedded } from '../src/store/embedded.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/cutter');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: a positive number is required`);
  return v;
}

interface Step {
  name: string;
  ms: number;
  peakMb: number;
  code: number | null;
  json: any;
  stderr: string;
}

/** Runs `cutter …`, sampling the child's VmHWM (peak resident set) every 20 ms. */
function cutter(name: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Step> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, ...args, '--json'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peakKb = 0;
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // the process is gone
      }
    };
    const timer = setInterval(sample, 20);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', () => sample());
    child.on('close', (code) => {
      clearInterval(timer);
      let json: unknown = null;
      try {
        json = JSON.parse(stdout);
      } catch {
        // not JSON
      }
      resolve({ name, ms: performance.now() - t0, peakMb: peakKb / 1024, code, json, stderr });
    });
  });
}

async function main(): Promise<number> {
  const rows = arg('rows', 1_000_000);
  const ceiling = arg('max-rss-mb', 400);
  const deletes = Math.max(1, Math.floor(rows / 100));
  const wideKb = process.argv.includes('--wide-kb') ? arg('wide-kb', 1) : 0;
  let url = process.env.CUTTER_BENCH_URL ?? process.env.DATABASE_URL;
  let release = async () => undefined as void;
  if (!url) {
    const server = await acquireEmbedded(mkdtempSync(path.join(os.tmpdir(), 'cutter-large-pg-')));
    url = server.url;
    release = server.release;
  }
  const admin = connect(url, { poolSize: 1 });
  const tag = Math.random().toString(16).slice(2, 10);
  const dbs = { store: `cutter_large_store_${tag}`, target: `cutter_large_target_${tag}` };
  const at = (db: string) => Object.assign(new URL(url!), { pathname: `/${db}` }).toString();
  for (const db of Object.values(dbs)) await admin.query(sql`CREATE DATABASE ${sql.ident(db)}`);
  const target = connect(at(dbs.target), { poolSize: 1 });
  const failures: string[] = [];
  const steps: Step[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutter-large-'));
  const keep = process.argv.includes('--keep');
  try {
    console.log(
      `large cut: ${rows.toLocaleString('en-US')} upserts (half new) + ${deletes.toLocaleString('en-US')} deletes ` +
        `on ${new URL(url).host}; RSS ceiling ${ceiling} MB` +
        (wideKb > 0 ? `; every existing row ${wideKb} kB wider (html, not managed)` : ''),
    );
    await target.query(
      sql`CREATE TABLE documents (id text PRIMARY KEY, title text NOT NULL, body text NOT NULL,
        status text NOT NULL DEFAULT 'draft', updated_at timestamptz NOT NULL DEFAULT '2026-01-01',
        html text NOT NULL DEFAULT '')`,
    );
    await target.query(
      sql`INSERT INTO documents (id, title, body) SELECT 'R-' || lpad(g::text, 8, '0'), 'title ' || g, 'body ' || g
        FROM generate_series(1, ${Math.floor(rows / 2)}) g`,
    );
    await target.query(
      sql`INSERT INTO documents (id, title, body) SELECT 'D-' || lpad(g::text, 8, '0'), 'doomed ' || g, 'body ' || g
        FROM generate_series(1, ${deletes}) g`,
    );
    // Hex of distinct digests: about as compressible (by TOAST, by the backup's OpenPGP compression)
    // as real documents, unlike one string repeated, which would shrink to almost nothing.
    if (wideKb > 0)
      await target.query(
        sql`UPDATE documents SET html = (SELECT string_agg(md5(id || g), '') FROM generate_series(1, ${wideKb * 32}) g)`,
      );
    const checksum = async () =>
      (
        await target.query(
          sql`SELECT count(*)::int AS n, md5(string_agg(d::text, E'\\n' ORDER BY id)) AS h FROM documents d`,
        )
      )[0] as { n: number; h: string };
    const before = await checksum();

    const keys = path.join(dir, 'keys');
    const backup = await generateBackupKey('backup', { dir: keys });
    const env = {
      ...process.env,
      CUTTER_STORE_URL: at(dbs.store),
      TARGET_URL: at(dbs.target),
      CUTTER_KEYS_DIR: keys,
      CUTTER_EXECUTION_ENABLED: '1',
      NO_COLOR: '1',
    };
    const { root } = await recordGenesis({
      cwd: dir,
      env,
      keysDir: keys,
      admin: 'root',
      members: { alice: ['approver', 'dba'], bob: ['approver', 'dba'], erin: ['author', 'operator'], root: ['admin'] },
      policy: { maxRows: rows + deletes, requiredApprovals: 2, approvalTtl: '4h', requireDryRun: true },
    });
    writeFileSync(
      path.join(dir, 'cutter.config.yaml'),
      stringify({
        targets: {
          docs: {
            url: 'env:TARGET_URL',
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
    const out = createWriteStream(path.join(dir, 'changes.ndjson'));
    const write = async (line: string) => {
      if (!out.write(line)) await once(out, 'drain');
    };
    for (let i = 1; i <= rows; i++) {
      const upsert = {
        id: `R-${String(i).padStart(8, '0')}`,
        title: `title v2 ${i}`,
        body: `body v2 ${i} — "revised" ✓`,
      };
      await write(`${JSON.stringify({ upsert })}\n`);
    }
    for (let i = 1; i <= deletes; i++)
      await write(`${JSON.stringify({ delete: { id: `D-${String(i).padStart(8, '0')}` } })}\n`);
    await new Promise((resolve) => out.end(resolve));
    writeFileSync(
      path.join(dir, 'plan.yaml'),
      'id: large\ntarget: docs\nreason: bounded-memory campaign\nchangesFile: changes.ndjson\n',
    );

    const step = async (name: string, args: string[], expectCode = 0) => {
      const s = await cutter(name, args, dir, env);
      steps.push(s);
      console.log(
        `  ${name.padEnd(10)} ${(s.ms / 1000).toFixed(1).padStart(7)} s  peak RSS ` +
          `${s.peakMb.toFixed(0).padStart(4)} MB  exit ${s.code}`,
      );
      if (s.code !== expectCode)
        failures.push(
          `${name}: exit ${s.code} (expected ${expectCode}): ${s.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        );
      if (s.peakMb > ceiling) failures.push(`${name}: peak RSS ${s.peakMb.toFixed(0)} MB exceeds ${ceiling} MB`);
      return s;
    };
    const expect = (what: string, ok: boolean) => {
      if (!ok) failures.push(what);
    };

    // A trivial command first: the floor the steps' peak RSS is read against (start-up alone).
    await step('status', ['status']);
    const plan = await step('plan', ['plan', 'plan.yaml', '--as', 'erin']);
    expect(`plan: rowCount ${plan.json?.rowCount}`, plan.json?.rowCount === rows + deletes);
    if (process.argv.includes('--plan-only')) return summary();
    await step('approve', ['approve', 'large', '--as', 'alice']);
    await step('approve', ['approve', 'large', '--as', 'bob']);
    const dry = await step('dry-run', ['run', 'large', '--dry-run', '--as', 'erin']);
    expect(
      `dry run diff ${JSON.stringify(dry.json?.diff?.counts)}`,
      JSON.stringify(dry.json?.diff?.counts) ===
        JSON.stringify({ inserts: rows - Math.floor(rows / 2), updates: Math.floor(rows / 2), deletes, unchanged: 0 }),
    );
    const live = await step('live', ['run', 'large', '--live', '--as', 'erin']);
    const phase = (p: string) => live.json?.phases?.find((x: { phase: string }) => x.phase === p)?.detail ?? {};
    expect(
      `leg A ${JSON.stringify(phase('legA'))}`,
      phase('legA').inserted === rows - Math.floor(rows / 2) &&
        phase('legA').updated === Math.floor(rows / 2) &&
        phase('legA').deleted === deletes,
    );
    expect(
      "verify: actual = expected = the dry run's expected post-image",
      phase('verify').actualHash === phase('verify').expectedHash &&
        phase('verify').expectedHash === dry.json?.expectedPostImageHash,
    );
    const after = await checksum();
    expect(`after the cut: ${after.n} rows`, after.n === rows + 0 && after.h !== before.h);
    const [published] = await target.query(sql`SELECT count(*)::int AS n FROM documents WHERE status = 'published'`);
    expect(`lifecycle: ${published?.n} published`, published?.n === rows);
    await step('replay', ['replay', 'large']);
    if (process.argv.includes('--skip-revert')) return summary();
    await step('revert', ['revert', 'large', '--live', '--as', 'erin']);
    const restored = await checksum();
    expect('revert restores the table exactly', restored.n === before.n && restored.h === before.h);

    return summary();
  } finally {
    await target.dispose();
    if (keep) console.log(`kept (--keep): ${dir}, store ${at(dbs.store)}, target ${at(dbs.target)}`);
    else for (const db of Object.values(dbs)) await admin.query(sql`DROP DATABASE ${sql.ident(db)} WITH (FORCE)`);
    await admin.dispose();
    await release();
  }

  function summary(): number {
    const total = steps.reduce((s, x) => s + x.ms, 0);
    console.log(`\n| step | wall time | peak RSS |\n|---|---|---|`);
    for (const s of steps) console.log(`| ${s.name} | ${(s.ms / 1000).toFixed(1)} s | ${s.peakMb.toFixed(0)} MB |`);
    console.log(
      `| all | ${(total / 1000).toFixed(1)} s | ${Math.max(...steps.map((s) => s.peakMb)).toFixed(0)} MB (ceiling ` +
        `${ceiling} MB) |`,
    );
    const live1 = steps.find((s) => s.name === 'live');
    if (live1)
      console.log(
        `\nlive run: ${Math.round((rows + deletes) / (live1.ms / 1000)).toLocaleString('en-US')} changes/s through ` +
          `all five phases`,
      );
    if (process.argv.includes('--json'))
      console.log(
        JSON.stringify({
          changes: rows + deletes,
          ok: failures.length === 0,
          steps: steps.map((s) => ({ name: s.name, ms: Math.round(s.ms), peakMb: Math.round(s.peakMb) })),
        }),
      );
    if (failures.length) {
      console.error(`\nFAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
      return 1;
    }
    console.log('\nall checks passed');
    return 0;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
