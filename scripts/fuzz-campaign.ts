/**
 * `npm run fuzz-campaign [-- --runs N --seed S --only valid,broken,decider]`: the long fuzz campaign
 * (not part of `npm test`). N runs (default 10,000) of each generator of test/support/plan-fuzz.ts —
 * valid-structure plans with hostile strings (each must be accepted and load back exactly from JSON
 * and YAML, same plan hash) and broken plans (each must be refused naming the faulty path) — and N
 * runs of the decider against its independent model (test/support/decider-model.ts), all from the
 * seed. Prints a summary table with the accept ratios and what the generators reached; exits 1 on
 * any failure, printing the first few (the seed and run number reproduce them).
 */
import fc from 'fast-check';
import { cutMachine } from '../machines/cut.js';
import { deciderProperty, KINDS, machineStates, newCoverage } from '../test/support/decider-model.js';
import {
  brokenPlanArb,
  CATEGORIES,
  checkBroken,
  checkValid,
  FAULT_NAMES,
  stringsOf,
  validPlanArb,
  writerFallbacks,
  type Category,
} from '../test/support/plan-fuzz.js';

const GENERATORS = ['valid', 'broken', 'decider'] as const;
type Generator = (typeof GENERATORS)[number];

interface Args {
  runs: number;
  seed: number;
  only: Generator[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = { runs: 10_000, seed: 20261201, only: [...GENERATORS] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--runs' || flag === '--seed') {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || (flag === '--runs' && value < 1))
        throw new Error(`${flag} needs ${flag === '--runs' ? 'a positive' : 'an'} integer`);
      if (flag === '--runs') args.runs = value;
      else args.seed = value;
    } else if (flag === '--only') {
      const names = (argv[++i] ?? '').split(',');
      if (names.some((n) => !GENERATORS.includes(n as Generator)))
        throw new Error(`--only takes a comma-separated subset of ${GENERATORS.join(',')}`);
      args.only = names as Generator[];
    } else {
      throw new Error(`unknown argument ${flag} (use --runs N, --seed S, --only ${GENERATORS.join(',')})`);
    }
  }
  return args;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) =>
    `| ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ')} |`;
  return [
    line(rows[0]!),
    `|${widths.map((w, c) => (c === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

const pct = (n: number, of: number) => `${((100 * n) / Math.max(1, of)).toFixed(2)}%`;

interface Tally {
  runs: number;
  accepted: number;
  refused: number;
  failures: string[];
  seconds: number;
}

/** Runs `check` on `runs` values of `arb` drawn from `seed`, counting; never stops at a failure. */
function campaign<T>(
  arb: fc.Arbitrary<T>,
  runs: number,
  seed: number,
  check: (value: T, run: number) => { accepted: boolean; failure?: string },
): Tally {
  const t: Tally = { runs: 0, accepted: 0, refused: 0, failures: [], seconds: 0 };
  const started = performance.now();
  fc.assert(
    fc.property(arb, (value) => {
      t.runs++;
      let r: { accepted: boolean; failure?: string };
      try {
        r = check(value, t.runs);
      } catch (err) {
        r = { accepted: false, failure: `threw ${err instanceof Error ? err.message : String(err)}` };
      }
      if (r.accepted) t.accepted++;
      else t.refused++;
      if (r.failure !== undefined) t.failures.push(`run ${t.runs}: ${r.failure.slice(0, 300)}`);
    }),
    { numRuns: runs, seed },
  );
  t.seconds = (performance.now() - started) / 1000;
  return t;
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  console.log(`fuzz campaign: ${args.runs} runs of ${args.only.join(', ')}, seed ${args.seed}`);
  const rows: string[][] = [
    ['generator', 'runs', 'accepted', 'refused', 'accept ratio', 'expected', 'failures', 'time'],
  ];
  const failures: string[] = [];
  const notes: string[] = [];

  if (args.only.includes('valid')) {
    const plansWith = new Map<Category, number>();
    const before = writerFallbacks.strings;
    const t = campaign(validPlanArb, args.runs, args.seed, (c) => {
      const strings = stringsOf(c.input);
      for (const [name, is] of Object.entries(CATEGORIES) as [Category, (s: string) => boolean][])
        if (strings.some(is)) plansWith.set(name, (plansWith.get(name) ?? 0) + 1);
      const v = checkValid(c);
      return v.ok ? { accepted: true } : { accepted: false, failure: v.why };
    });
    rows.push([
      'valid plans, hostile strings',
      String(t.runs),
      String(t.accepted),
      String(t.refused),
      pct(t.accepted, t.runs),
      '100%',
      String(t.failures.length),
      `${t.seconds.toFixed(0)} s`,
    ]);
    failures.push(...t.failures.map((f) => `valid ${f}`));
    const holding = (Object.keys(CATEGORIES) as Category[]).map((k) => `${k} ${pct(plansWith.get(k) ?? 0, t.runs)}`);
    notes.push(`valid plans holding a string that is: ${holding.join(', ')}`);
    notes.push(`strings written escaped because yaml's writer does not keep them: ${writerFallbacks.strings - before}`);
  }

  if (args.only.includes('broken')) {
    const faults = new Map<string, number>();
    const t = campaign(brokenPlanArb, args.runs, args.seed, (c) => {
      faults.set(c.fault, (faults.get(c.fault) ?? 0) + 1);
      const v = checkBroken(c);
      if (v.ok) return { accepted: false };
      return { accepted: v.why.includes(': accepted'), failure: v.why };
    });
    rows.push([
      'broken plans',
      String(t.runs),
      String(t.accepted),
      String(t.refused),
      pct(t.accepted, t.runs),
      '0%',
      String(t.failures.length),
      `${t.seconds.toFixed(0)} s`,
    ]);
    failures.push(...t.failures.map((f) => `broken ${f}`));
    const missed = FAULT_NAMES.filter((f) => !faults.has(f));
    if (missed.length) failures.push(`broken: faults never generated: ${missed.join(', ')}`);
    notes.push(
      `broken plans by fault (${faults.size} of ${FAULT_NAMES.length} kinds): ${[...faults]
        .sort()
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
    );
  }

  if (args.only.includes('decider')) {
    const coverage = newCoverage();
    const started = performance.now();
    const r = fc.check(deciderProperty(coverage), { numRuns: args.runs, seed: args.seed });
    const seconds = (performance.now() - started) / 1000;
    const accepted = [...coverage.accepted.values()].reduce((a, b) => a + b, 0);
    const refused = [...coverage.refused.values()].reduce((a, b) => a + b, 0);
    rows.push([
      'decider vs model (steps)',
      String(coverage.steps),
      String(accepted),
      String(refused),
      pct(accepted, coverage.steps),
      'as the model says',
      r.failed ? '1' : '0',
      `${seconds.toFixed(0)} s`,
    ]);
    if (r.failed) {
      const error = r.errorInstance instanceof Error ? r.errorInstance.message : r.errorInstance;
      failures.push(
        `decider: ${String(error).slice(0, 300)}; counterexample ${fc.stringify(r.counterexample).slice(0, 500)}`,
      );
    }
    const missing = machineStates(cutMachine.root).filter((s) => !coverage.states.has(s));
    if (missing.length) failures.push(`decider: machine states never visited: ${missing.join(', ')}`);
    notes.push(
      `decider: ${coverage.runs} runs, deepest accepted history ${coverage.maxDepth} events; states visited: ${[
        ...coverage.states,
      ]
        .sort((a, b) => b[1] - a[1])
        .map(([s, n]) => `${s} ${n}`)
        .join(', ')}`,
    );
    const refusals = (k: string) =>
      (coverage.refused.get(`${k}:IllegalTransition`) ?? 0) + (coverage.refused.get(`${k}:GovernanceRefused`) ?? 0);
    const kinds = KINDS.map((k) => `${k} ${coverage.accepted.get(k) ?? 0}/${refusals(k)}`);
    notes.push(`decider kinds (accepted / refused): ${kinds.join(', ')}`);
  }

  console.log(`\nsummary (seed ${args.seed})\n`);
  console.log(table(rows));
  console.log('');
  for (const n of notes) console.log(n);
  if (failures.length) {
    console.log(`\n${failures.length} failure(s); the first ones:`);
    for (const f of failures.slice(0, 10)) console.log(`- ${f}`);
    return 1;
  }
  return 0;
}

try {
  process.exit(main());
} catch (err) {
  console.error(`fuzz campaign: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
}
