/**
 * A standalone driver for profiling the pure fold: `node [--cpu-prof] dist/scripts/bench/fold-driver.js [events]`.
 * Replays 20-event histories (400 distinct signature sets, cycled) and prints events/s by wall
 * clock and by this process's CPU time (steadier on a shared machine).
 */
import { benchReplay } from './core.js';

const n = Number(process.argv[2] ?? 100_000);
await benchReplay({ quick: true, events: 2_000 }); // warm-up
const cpu = process.cpuUsage();
const t = performance.now();
const rows = await benchReplay({ quick: true, events: n });
const used = process.cpuUsage(cpu);
const wall = performance.now() - t;
for (const r of rows)
  console.log(
    `${r.name}: ${Math.round(r.value).toLocaleString('en-US')} ${r.unit} wall (floor ` +
      `${Math.round(r.floor).toLocaleString('en-US')}); whole section ${Math.round(wall)} ms wall, ` +
      `${Math.round((used.user + used.system) / 1000)} ms CPU`,
  );
