/**
 * A standalone driver for profiling `projections rebuild`:
 * `node [--cpu-prof] dist/scripts/bench/rebuild-driver.js [events] [runs] [threads|-] [fetchEvents] [batchStreams]`
 * against CUTTER_BENCH_URL (threads: approval-verifying workers, 0 = in the fold; default every core). Fills a
 * fresh database once (KEEP_DB=1 keeps it), then times several rebuilds (wall, and CPU of this process's threads).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rebuildProjections } from '../../src/projections/rebuild.js';
import { connect, sql } from '../../src/store/connection.js';
import { openStore } from '../../src/store/index.js';
import { benchHistory } from './core.js';

const url = process.env.CUTTER_BENCH_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const n = Number(process.argv[2] ?? 20_000);
const runs = Number(process.argv[3] ?? 3);
const threads = process.argv[4] === undefined || process.argv[4] === '-' ? undefined : Number(process.argv[4]);
const fetchEvents = process.argv[5] === undefined ? undefined : Number(process.argv[5]);
const batchStreams = process.argv[6] === undefined ? undefined : Number(process.argv[6]);
const admin = connect(url, { poolSize: 1 });
const dbName = `cutter_rb_${randomUUID().slice(0, 8)}`;
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
  for (let r = 0; r < runs; r++) {
    const server = await serverCpuMs(dbName);
    const cpu = process.cpuUsage();
    const t = performance.now();
    const res = await rebuildProjections(store.db, {
      ...(threads === undefined ? {} : { verifyThreads: threads }),
      ...(fetchEvents === undefined ? {} : { fetchEvents }),
      ...(batchStreams === undefined ? {} : { batchStreams }),
    });
    const wall = performance.now() - t;
    const used = process.cpuUsage(cpu);
    const serverMs = (await serverCpuMs(dbName)) - server;
    const perEvent = (ms: number) => ((ms * 1000) / res.events).toFixed(1);
    console.log(
      `rebuild ${res.events} events / ${res.streams} streams: ` +
        `${Math.round(res.events / (wall / 1000)).toLocaleString('en-US')} events/s wall; ${Math.round(wall)} ms ` +
        `wall, ${Math.round((used.user + used.system) / 1000)} ms CPU (all threads), ${res.verifiedAhead} ` +
        `approvals verified ahead; per event: Node ${perEvent((used.user + used.system) / 1000)} µs, ` +
        `PostgreSQL ${perEvent(serverMs)} µs`,
    );
  }
} finally {
  await store.close();
  if (process.env.KEEP_DB) console.log('kept', dbName);
  else await admin.query(sql`DROP DATABASE ${sql.ident(dbName)} WITH (FORCE)`);
  await admin.dispose();
}

/**
 * CPU (user + system, ms) the server's backends connected to `db` have used so far, from
 * `/proc/<pid>/stat` (the server must run on this machine; 0 when it does not).
 */
async function serverCpuMs(db: string): Promise<number> {
  const pids = await admin.query(sql`SELECT pid FROM pg_stat_activity WHERE datname = ${db}`);
  let ticks = 0;
  for (const { pid } of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // not on this machine, or already gone
    }
  }
  return ticks * 10;
}
