/**
 * `npm run crash-campaign [-- --trials N --seed S --only K]`: the long crash campaign. N trials
 * (default CUTTER_CRASH_TRIALS or 100), each a large live cut hit by one fault at a moment drawn
 * by fast-check from the seed — a SIGKILL of the runner, pg_terminate_backend of the runner's
 * backends, or `pg_ctl stop -m immediate` of the server and a restart — then re-run until it
 * completes and checked exactly as test/e2e/crash.e2e.test.ts checks (test/support/crash.ts).
 * Everything runs on a scratch PostgreSQL cluster of its own (never the shared server), so it
 * can be stopped at will. Prints a line per trial and a summary table; exits 1 on any violation.
 * `--only K` re-runs trial K of the seeded sequence alone (the replay line printed on a violation;
 * the fault and moment are the same, though where the run is at that moment can differ).
 * `--faults sigkill,terminate,restart` narrows the mix, and `--faults sigkill:10,restart:1` weighs
 * it; `--terminate target|store|both` chooses whose backends a terminate trial ends (the target
 * adapter's `cutter-live`, the store's `cutter`). `--rows N` sizes each trial's cut (default 4000;
 * the workspace is seeded with 3N/4 rows), `--window MAX` or `--window MIN-MAX` bounds the fault
 * moment (default 0-3000 ms after the spawn; with `--from phases`, after the runner's target adapter
 * first connected, just before the first phase). `--until sigkill=500,restart=50` stops once that
 * many faults of each kind have landed mid-phase (in one of the five live phases), --trials then
 * being the most it runs.
 * The first Ctrl-C ends the campaign after the current trial, still printing its summary.
 * Each trial reports where its fault landed: before LiveRunStarted (start), in a live phase —
 * `+` when that phase had committed and only its event was missing, which the re-run must then
 * record as reconciled — or after the last phase event (end).
 */
import fc from 'fast-check';
import {
  CRASH_ROWS,
  CRASH_SEEDED,
  FAULTS,
  LIVE_PHASES,
  RUNNER_APPLICATION_NAMES,
  runCrashTrial,
  type Fault,
  type Landing,
  type TrialResult,
  type TrialSpec,
} from '../test/support/crash.js';
import { scratchServer, type ScratchServer } from '../test/support/scratch-server.js';
import { testWorkspace, type TestWorkspace } from '../test/support/workspace.js';

interface Args {
  trials: number;
  seed: number;
  only?: number;
  /** Which of the runner's backends `terminate` trials end (default: both). */
  terminate: 'both' | 'target' | 'store';
  faults: Fault[];
  /** Relative weights of the faults, when given (`--faults sigkill:10,restart:1`). */
  weights?: number[];
  rows: number;
  /** The fault moment's range, in ms after the spawn. */
  window: [number, number];
  /** Stop once this many faults of a kind landed mid-phase. */
  until?: Partial<Record<Fault, number>>;
  /** What the fault moment counts from (TrialSpec.from). */
  from: 'spawn' | 'phases';
}

const SCOPES = { both: RUNNER_APPLICATION_NAMES, target: ['cutter-live'], store: ['cutter'] };

function parseArgs(argv: string[]): Args {
  const args: Args = {
    trials: Number(process.env.CUTTER_CRASH_TRIALS ?? 100),
    seed: Number(process.env.CUTTER_CRASH_SEED ?? 20261125),
    terminate: 'both',
    faults: [...FAULTS],
    rows: CRASH_ROWS,
    window: [0, 3000],
    from: 'spawn',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = Number(argv[i + 1]);
    if (flag === '--terminate') {
      const scope = argv[++i];
      if (scope !== 'both' && scope !== 'target' && scope !== 'store')
        throw new Error('--terminate takes both, target or store');
      args.terminate = scope;
    } else if (flag === '--faults') {
      const parts = (argv[++i] ?? '').split(',').map((p) => p.split(':'));
      const bad = parts.some(
        ([f, w, ...rest]) =>
          !FAULTS.includes(f as Fault) ||
          rest.length ||
          (w !== undefined && !(Number.isInteger(Number(w)) && Number(w) > 0)),
      );
      if (!parts.length || bad)
        throw new Error(
          `--faults takes a comma-separated subset of ${FAULTS.join(',')}, each optionally weighted (sigkill:10)`,
        );
      args.faults = parts.map(([f]) => f as Fault);
      if (parts.some(([, w]) => w !== undefined)) args.weights = parts.map(([, w]) => Number(w ?? 1));
    } else if (flag === '--until') {
      args.until = {};
      for (const part of (argv[++i] ?? '').split(',')) {
        const [f, n] = part.split('=');
        if (!FAULTS.includes(f as Fault) || !Number.isInteger(Number(n)) || Number(n) < 1)
          throw new Error('--until takes fault=count pairs (sigkill=500,restart=50)');
        args.until[f as Fault] = Number(n);
      }
    } else if (flag === '--from') {
      const from = argv[++i];
      if (from !== 'spawn' && from !== 'phases') throw new Error('--from takes spawn or phases');
      args.from = from;
    } else if (flag === '--rows') {
      if (!Number.isInteger(value) || value < 4) throw new Error('--rows needs an integer of at least 4');
      args.rows = value;
      i++;
    } else if (flag === '--window') {
      const [a, b, ...rest] = (argv[++i] ?? '').split('-').map(Number);
      const [min, max] = b === undefined ? [0, a] : [a, b];
      if (rest.length || !Number.isInteger(min) || !Number.isInteger(max) || min! < 0 || max! < min!)
        throw new Error('--window takes MAX or MIN-MAX (ms, integers)');
      args.window = [min!, max!];
    } else if (flag === '--trials' || flag === '--seed' || flag === '--only') {
      if (!Number.isInteger(value) || (flag !== '--seed' && value < 1))
        throw new Error(`${flag} needs a ${flag === '--seed' ? 'n integer' : ' positive integer'}`);
      if (flag === '--trials') args.trials = value;
      else if (flag === '--seed') args.seed = value;
      else args.only = value;
      i++;
    } else {
      throw new Error(
        `unknown argument ${flag} (use --trials N, --seed S, --only K, --faults F[:W],F[:W], --terminate ` +
          `both|target|store, --rows N, --window MS, --until F=N,F=N)`,
      );
    }
  }
  if (args.only !== undefined && args.only > args.trials)
    throw new Error(`--only ${args.only} is beyond --trials ${args.trials}`);
  if (args.until && Object.keys(args.until).some((f) => !args.faults.includes(f as Fault)))
    throw new Error('--until names a fault --faults leaves out');
  return args;
}

/**
 * The trial sequence: a pure function of its arguments, so any trial can be replayed alone. Without
 * weights or a window it is the sequence earlier campaigns printed replay lines for.
 */
export function trialSpecs(
  seed: number,
  trials: number,
  faults: readonly Fault[] = FAULTS,
  applicationNames?: string[],
  weights?: number[],
  window: [number, number] = [0, 3000],
  from: 'spawn' | 'phases' = 'spawn',
): TrialSpec[] {
  const fault = weights
    ? fc.oneof(...faults.map((f, i) => ({ arbitrary: fc.constant(f), weight: weights[i]! })))
    : fc.constantFrom(...faults);
  // fast-check favours small integers and the bounds; a custom window or --from phases draws the
  // moment uniformly instead (the default stays the sequence earlier replay lines name).
  const uniform = weights !== undefined || from !== 'spawn' || window.join('-') !== '0-3000';
  const atMs = fc.integer({ min: window[0], max: window[1] });
  const arb = fc.record({ fault, atMs: uniform ? fc.noBias(atMs) : atMs, downMs: fc.integer({ min: 0, max: 1500 }) });
  return fc.sample(arb, { numRuns: trials, seed }).map((s, i) => ({
    tag: `c${i + 1}`,
    fault: s.fault,
    atMs: s.atMs,
    ...(from === 'phases' ? { from } : {}),
    ...(s.fault === 'restart' ? { downMs: s.downMs } : {}),
    ...(s.fault === 'terminate' && applicationNames ? { applicationNames } : {}),
  }));
}

const describeSpec = (s: TrialSpec) =>
  `${s.fault.padEnd(9)} at ${s.from === 'phases' ? 'P+' : ''}${String(s.atMs).padStart(4)} ` +
  `ms${s.downMs !== undefined ? `, down ${s.downMs} ms` : ''}`;

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

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const specs = trialSpecs(
    args.seed,
    args.trials,
    args.faults,
    SCOPES[args.terminate],
    args.weights,
    args.window,
    args.from,
  );
  const chosen = args.only !== undefined ? [specs[args.only - 1]!] : specs;
  const started = performance.now();
  const faultsArg = args.faults.map((f, i) => (args.weights ? `${f}:${args.weights[i]}` : f)).join(',');
  // The options that differ from the defaults, to repeat the campaign.
  const extra = [
    args.faults.length < FAULTS.length || args.weights ? ` --faults ${faultsArg}` : '',
    args.terminate !== 'both' ? ` --terminate ${args.terminate}` : '',
    args.rows !== CRASH_ROWS ? ` --rows ${args.rows}` : '',
    args.window.join('-') !== '0-3000' ? ` --window ${args.window.join('-')}` : '',
    args.from !== 'spawn' ? ` --from ${args.from}` : '',
  ].join('');
  const untilText = args.until
    ? `; until ${Object.entries(args.until)
        .map(([f, n]) => `${n} ${f}`)
        .join(', ')} landed mid-phase`
    : '';
  console.log(
    `crash campaign: ${chosen.length} trial(s) at most, seed ` +
      `${args.seed}${args.only !== undefined ? `, only trial ${args.only}` : ''}; faults ${faultsArg}; terminate ` +
      `${SCOPES[args.terminate].join(', ')}; ${args.rows} rows per cut; fault at ${args.window.join('-')} ms after ` +
      `the ${args.from === 'spawn' ? 'spawn' : 'phases began'}${untilText}`,
  );
  const seeded = args.rows === CRASH_ROWS ? CRASH_SEEDED : Math.ceil((args.rows * 3) / 4);

  let server: ScratchServer | undefined;
  let ws: TestWorkspace | undefined;
  // One cleanup, however it is reached (end of the campaign, an error, Ctrl-C): the scratch
  // server must not outlive the campaign.
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await ws?.drop().catch(() => undefined);
      await server?.destroy().catch(() => undefined);
    })());
  // The first Ctrl-C (SIGINT) ends the campaign after the current trial, with its summary; a second
  // one stops at once.
  let stopping = false;
  process.on('SIGINT', () => {
    if (stopping) return void cleanup().finally(() => process.exit(130));
    stopping = true;
    console.log('stopping after this trial (Ctrl-C again to stop now)');
  });

  const results: TrialResult[] = [];
  try {
    server = await scratchServer();
    console.log(`scratch PostgreSQL on port ${server.port} (${server.dir})`);
    ws = await testWorkspace({ rows: seeded, adminUrl: server.url });
    const midPhase = (r: TrialResult) =>
      r.faultLanded && r.landing !== undefined && r.landing.phase !== 'start' && r.landing.phase !== 'end';
    const reached = () =>
      Object.entries(args.until ?? {}).every(
        ([f, n]) => results.filter((r) => r.spec.fault === f && midPhase(r)).length >= n,
      );
    for (const spec of chosen) {
      if (stopping || (args.until && args.only === undefined && reached())) break;
      const k = Number(spec.tag.slice(1));
      let r: TrialResult;
      try {
        r = await runCrashTrial(
          { ws, adminUrl: server.url, server, runTimeoutMs: 120_000, rows: args.rows, seeded },
          spec,
        );
      } catch (err) {
        // A trial that cannot even be checked is a violation too; make sure the server is up again.
        await server.start().catch(() => undefined);
        const message = err instanceof Error ? err.message : String(err);
        r = {
          spec,
          cutId: `crash-${spec.tag}`,
          faultLanded: false,
          reconciled: [],
          backendsTerminated: 0,
          first: { code: null, signal: null, stderr: '', ms: 0, hung: false },
          runs: [],
          reruns: 0,
          completed: false,
          completedWithError: false,
          violations: [`trial error: ${message}`],
          ms: 0,
        };
      }
      results.push(r);
      const first = r.first.code === 0 ? 'exit 0' : `exit ${r.first.code ?? r.first.signal}`;
      const fault = spec.fault === 'terminate' ? `${r.backendsTerminated} backend(s) terminated` : 'injected mid-run';
      const landed = r.faultLanded ? `${fault} in ${landingText(r.landing)}` : 'missed (run already over)';
      const verdict =
        (r.violations.length ? `VIOLATIONS (${r.violations.length})` : 'ok') +
        (r.completedWithError ? ' (completed, but a run exited with an error)' : '');
      console.log(
        `#${String(k).padStart(3)} ${describeSpec(spec).padEnd(36)} ${landed.padEnd(40)} ` +
          `first run ${first.padEnd(8)} ${r.reruns} re-run(s) ${(r.ms / 1000).toFixed(1).padStart(5)} s  ${verdict}`,
      );
      if (r.violations.length || r.completedWithError) {
        r.runs.forEach((run, i) =>
          console.log(
            `       run ${i + 1}: exit ${run.code ?? run.signal} after ${Math.round(run.ms)} ` +
              `ms${run.stderr.trim() ? `; stderr: ${run.stderr.trim().split('\n').join(' ⏎ ')}` : ''}`,
          ),
        );
        for (const v of r.violations) console.log(`       - ${v}`);
        if (r.violations.length)
          console.log(
            `       replay: npm run crash-campaign -- --seed ${args.seed} --trials ${args.trials}${extra} --only ${k}`,
          );
      }
    }
  } finally {
    await cleanup();
  }

  const wall = (performance.now() - started) / 1000;
  const of = (f?: Fault) => results.filter((r) => !f || r.spec.fault === f);
  const stats = (rs: TrialResult[]) => ({
    trials: rs.length,
    landed: rs.filter((r) => r.faultLanded).length,
    disrupted: rs.filter((r) => r.first.code !== 0).length,
    backends: rs.reduce((n, r) => n + r.backendsTerminated, 0),
    recovered: rs.filter((r) => r.completed && r.reruns > 0 && r.violations.length === 0).length,
    reruns: rs.reduce((n, r) => n + r.reruns, 0),
    completedWithError: rs.filter((r) => r.completedWithError).length,
    failedTrials: rs.filter((r) => r.violations.length > 0).length,
    violations: rs.reduce((n, r) => n + r.violations.length, 0),
  });
  const all = stats(of());
  const sig = stats(of('sigkill'));
  const term = stats(of('terminate'));
  const rst = stats(of('restart'));

  console.log(
    `\nsummary (seed ${args.seed}${extra}; ${results.length} of up to ${chosen.length} trial(s) ` +
      `run${stopping ? ', stopped by Ctrl-C' : ''})\n`,
  );
  console.log(
    table([
      ['metric', 'value'],
      ['trials', String(all.trials)],
      ['SIGKILLs (mid-run)', String(sig.landed)],
      ['backend terminations (trials / backends)', `${term.landed} / ${term.backends}`],
      ['server immediate stops + restarts (mid-run)', String(rst.landed)],
      ['faulted runs that failed', String(all.disrupted)],
      ['recoveries (trials / re-runs needed)', `${all.recovered} / ${all.reruns}`],
      ['completed, but the run reported an error', String(all.completedWithError)],
      ['trials with violations', String(all.failedTrials)],
      ['violations', String(all.violations)],
      ['wall time', `${wall.toFixed(0)} s`],
    ]),
  );
  console.log('');
  console.log(
    table([
      [
        'fault',
        'trials',
        'injected mid-run',
        'faulted run failed',
        'recovered by re-run',
        're-runs',
        'completed, run reported error',
        'trials with violations',
      ],
      ...(
        [
          ['SIGKILL', sig],
          ['terminate backends', term],
          ['immediate restart', rst],
          ['all', all],
        ] as const
      ).map(([name, s]) => [
        name,
        String(s.trials),
        String(s.landed),
        String(s.disrupted),
        String(s.recovered),
        String(s.reruns),
        String(s.completedWithError),
        String(s.failedTrials),
      ]),
    ]),
  );
  // Where the faults landed: per kind, per phase (`+`: committed, only the event missing).
  const columns: Landing['phase'][] = ['start', ...LIVE_PHASES, 'end'];
  const landedIn = (rs: TrialResult[], p: Landing['phase']) => {
    const at = rs.filter((r) => r.faultLanded && r.landing?.phase === p);
    const committed = at.filter((r) => r.landing?.committed).length;
    return `${at.length}${committed ? ` (${committed}+)` : ''}`;
  };
  const midPhaseOf = (rs: TrialResult[]) =>
    rs.filter((r) => r.faultLanded && r.landing && LIVE_PHASES.includes(r.landing.phase as never)).length;
  console.log(
    `\nwhere the faults landed (n+: of which n had committed the phase, its event not yet recorded; the re-run ` +
      `recorded it reconciled)\n`,
  );
  console.log(
    table([
      ['fault', ...columns, 'mid-phase', 'reconciled events'],
      ...(
        [
          ['SIGKILL', of('sigkill')],
          ['terminate backends', of('terminate')],
          ['immediate restart', of('restart')],
          ['all', of()],
        ] as const
      ).map(([name, rs]) => [
        name,
        ...columns.map((p) => landedIn(rs, p)),
        String(midPhaseOf(rs)),
        String(rs.reduce((n, r) => n + r.reconciled.length, 0)),
      ]),
    ]),
  );
  return all.violations === 0 ? 0 : 1;
}

const landingText = (l?: Landing) => (l ? `${l.phase}${l.committed ? '+' : ''}` : '?');

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`crash campaign: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
