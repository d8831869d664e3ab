/**
 * Peak RSS of every CLI process of a cut (issue #18: ≤ 256 MB, and within 10% from 100,000 to
 * 1,000,000 changes): `npm run large-cut` (scripts/large-cut.ts) at two sizes, each step a
 * separate `cutter` process whose VmHWM is sampled from /proc. Each step's peak at the larger size
 * is printed beside its peak at the smaller one (the floor: memory must not grow with the cut), and
 * `cutter status` (a trivial command, same run) beside nothing but itself. --quick runs 20,000 and
 * 200,000 changes; the full bench 100,000 and 1,000,000 (about 5 minutes on 2 cores).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './measure.js';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../large-cut.js');

interface LargeCut {
  changes: number;
  ok: boolean;
  steps: { name: string; ms: number; peakMb: number }[];
}

/** One `large-cut --rows n --json` run against `url`: its steps' peaks (throws if a check failed). */
function largeCut(url: string, rows: number): Promise<LargeCut> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, '--rows', String(rows), '--max-rss-mb', '100000', '--json'], {
      env: { ...process.env, CUTTER_BENCH_URL: url },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{"changes":'));
      if (code !== 0 || !line) return reject(new Error(`bench: large-cut --rows ${rows} exited ${code}\n${out}`));
      resolve(JSON.parse(line) as LargeCut);
    });
  });
}

/** The peak of each step (approvals: the higher), in the order the cut runs them. */
function peaks(run: LargeCut): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of run.steps) m.set(s.name, Math.max(m.get(s.name) ?? 0, s.peakMb));
  return m;
}

export async function benchRss(url: string, opts: { quick: boolean }): Promise<BenchRow[]> {
  const [small, large] = opts.quick ? [20_000, 200_000] : [100_000, 1_000_000];
  const a = await largeCut(url, small);
  const b = await largeCut(url, large);
  const pa = peaks(a);
  const pb = peaks(b);
  const n = (x: number) => x.toLocaleString('en-US');
  return [...pb].map(([step, mb]) => {
    const floor = pa.get(step) ?? 0;
    return {
      name: `peak RSS: ${step}, ${n(b.changes)} changes`,
      value: mb,
      unit: 'MB',
      floor,
      ratio: floor > 0 ? mb / floor : 0,
      note:
        step === 'status'
          ? 'a trivial command: start-up alone'
          : `floor: the same step at ${n(a.changes)} changes; goal ≤ 256 MB and ≤ 1.10×`,
    };
  });
}
