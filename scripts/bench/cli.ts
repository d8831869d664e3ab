/**
 * CLI latency: median wall time of `cutter --help` and `cutter status --json` against a server
 * store, beside `node -e 0` (the floor: Node's own start-up; issue #18's goal for `status --json`
 * is the floor + 150 ms, with no patched dependency code). Embedded start-up on its own line.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireEmbedded, stopEmbedded } from '../../src/store/embedded.js';
import { median, timeRow, type BenchRow } from './measure.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/cutter');

function wall(args: string[], env: NodeJS.ProcessEnv, cwd: string): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { env, cwd, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`bench: ${args.join(' ')} exited ${r.status}`);
  return performance.now() - t;
}

export async function benchCli(storeUrl: string, opts: { quick: boolean }): Promise<BenchRow[]> {
  const n = opts.quick ? 7 : 21;
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'cutter-bench-cli-'));
  const env = { ...process.env, CUTTER_STORE_URL: storeUrl, NO_COLOR: '1' };
  const floor = median(Array.from({ length: n }, () => wall(['-e', '0'], env, cwd)));
  // Once before timing: migrates the store, and writes each command's code cache (bin/cutter).
  wall([BIN, 'status', '--json'], env, cwd);
  wall([BIN, '--help'], env, cwd);
  const help = median(Array.from({ length: n }, () => wall([BIN, '--help'], env, cwd)));
  const status = median(Array.from({ length: n }, () => wall([BIN, 'status', '--json'], env, cwd)));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutter-bench-emb-'));
  let t = performance.now();
  const first = await acquireEmbedded(dir);
  const initAndStart = performance.now() - t;
  await first.release();
  t = performance.now();
  const second = await acquireEmbedded(dir);
  const startOnly = performance.now() - t;
  await second.release();
  await stopEmbedded(dir);
  rmSync(dir, { recursive: true, force: true });
  rmSync(cwd, { recursive: true, force: true });
  return [
    timeRow('cutter --help (median wall)', help, floor, 'ms', 'floor: node -e 0; goal ≤ 250 ms'),
    timeRow(
      'cutter status --json, server store',
      status,
      floor,
      'ms',
      `floor: node -e 0; goal ≤ floor + 150 ms (here floor + ${Math.round(status - floor)} ms)`,
    ),
    timeRow(
      'embedded PostgreSQL: initdb + start',
      initAndStart,
      startOnly,
      'ms',
      'floor: start of an initialised server',
    ),
  ];
}
