/**
 * A standalone driver for profiling the pure fold: `node [--cpu-prof] dist/scripts/bench/fold-driver.js [events]`.
 * Replays 20-event histories (400 distinct signature sets, cycled) and prints events/s.
 */
import { benchReplay } from './core.js';

const n = Number(process.argv[2] ?? 100_000);
const rows = await benchReplay({ quick: true, events: n });
for (const r of rows) console.log(`${r.name}: ${Math.round(r.value).toLocaleString('en-US')} ${r.unit} (floor ${Math.round(r.floor).toLocaleString('en-US')})`);
