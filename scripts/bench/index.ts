/**
 * `npm run bench [-- --quick] [-- --only cli,appends]`: every figure beside a floor measured in the
 * same run on the same server. The server is DATABASE_URL / CUTTER_BENCH_URL when set, else an
 * embedded PostgreSQL. --only runs the named sections (appends, replay, signing, rebuild, since, live, cli,
 * rss).
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquireEmbedded } from '../../src/store/embedded.js';
import { benchAppends } from './appends.js';
import { benchCli } from './cli.js';
import { benchRebuild, benchReplay } from './core.js';
import { benchLiveCut } from './live.js';
import { benchReplaySince } from './since.js';
import { benchRss } from './rss.js';
import { benchSigning } from './signing.js';
import { formatRows, type BenchRow } from './measure.js';

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  // `--only replay,rebuild` runs just those sections (names as printed: appends, replay, rebuild,
  // since checkpoint → since, live cut → live, cli, rss: peak RSS of each CLI step at two sizes).
  const onlyArg = process.argv.find((a, i) => a.startsWith('--only=') || process.argv[i - 1] === '--only');
  const only = onlyArg
    ? new Set(
        onlyArg
          .replace(/^--only=/, '')
          .split(',')
          .map((s) => s.trim()),
      )
    : undefined;
  let url = process.env.CUTTER_BENCH_URL ?? process.env.DATABASE_URL;
  let release = async () => undefined as void;
  if (!url) {
    const server = await acquireEmbedded(mkdtempSync(path.join(os.tmpdir(), 'cutter-bench-pg-')));
    url = server.url;
    release = server.release;
    console.log(`embedded PostgreSQL started in ${Math.round(server.startupMs)} ms`);
  }
  console.log(
    `cutter bench (${quick ? 'quick' : 'full'}) on ${new URL(url).host}, node ${process.version}, ` +
      `${os.cpus().length} cores`,
  );
  const rows: BenchRow[] = [];
  const section = async (name: string, fn: () => Promise<BenchRow[]>) => {
    if (only && !only.has(name.split(' ')[0]!)) return;
    process.stdout.write(`  ${name}…\n`);
    const got = await fn();
    for (const r of got)
      process.stdout.write(
        `    ${r.name}: ${r.value.toFixed(1)} ${r.unit} (floor ${r.floor.toFixed(1)}, ${r.ratio.toFixed(2)}×)\n`,
      );
    rows.push(...got);
  };
  try {
    await section('appends', () => benchAppends(url!, { quick }));
    await section('replay', () => benchReplay({ quick }));
    await section('signing', () => benchSigning({ quick }));
    await section('rebuild', () => benchRebuild(url!, { quick }));
    await section('since checkpoint', () => benchReplaySince(url!, { quick }));
    await section('live cut', () => benchLiveCut(url!, { quick }));
    await section('cli', () => benchCli(url!, { quick }));
    await section('rss', () => benchRss(url!, { quick }));
  } finally {
    await release();
  }
  console.log(`\n${formatRows(rows)}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
