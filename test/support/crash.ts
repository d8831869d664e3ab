/**
 * The crash campaign's moving parts, shared by test/e2e/crash.e2e.test.ts and
 * scripts/crash-campaign.ts: prepare a large approved cut, start `cutter run <cut> --live` as a real
 * process, inject ONE fault at a chosen moment, re-run the same command until it completes, then
 * check the recovery. Nothing here imports vitest's runtime: checks return violations (strings)
 * for the caller to assert on or count.
 *
 * Faults:
 * - `sigkill`: the runner process is SIGKILLed.
 * - `terminate`: mid-phase (the first moment at or after the chosen one when the target adapter
 *   has a phase transaction open), from a separate admin connection, pg_terminate_backend every
 *   backend of the runner — application_name `cutter-live` (the target adapter) or `cutter` (the
 *   store's pool, src/store/connection.ts's default) in the workspace's two databases.
 * - `restart`: likewise mid-phase, the whole (scratch) server is stopped with `pg_ctl stop -m
 *   immediate`, left down for a moment, and started again.
 *
 * Where a fault landed is read from what the faulted run left behind (`landingOf`): the first live
 * phase whose event is not recorded, and whether that phase had committed already (its backup row
 * or target receipt exists). Any phase seen committed with its event missing, before any re-run,
 * must end with its event marked `reconciled`; every other phase event must not be.
 */
import { spawn } from 'node:child_process';
import { replayStore } from '../../src/audit/replay.js';
import { approveCut } from '../../src/cuts/approve.js';
import { planCut } from '../../src/cuts/plan.js';
import { dryRun } from '../../src/runner/dry-run.js';
import { connect, sql } from '../../src/store/connection.js';
import { BIN } from './cli.js';
import type { ScratchServer } from './scratch-server.js';
import { bigPlan, type TestWorkspace } from './workspace.js';

export type Fault = 'sigkill' | 'terminate' | 'restart';
export const FAULTS: readonly Fault[] = ['sigkill', 'terminate', 'restart'];

/** Rows planned per trial cut (half revisions of seeded rows, half new) and seeded rows expected. */
export const CRASH_ROWS = 4000;
export const CRASH_SEEDED = 3000;
/** application_name of the runner's connections: the target adapter's and the store pool's. */
export const RUNNER_APPLICATION_NAMES = ['cutter-live', 'cutter'];
const PHASE_EVENTS = [
  'LiveRunStarted',
  'BackupTaken',
  'LegAWritten',
  'LegBRecorded',
  'WriteVerified',
  'LifecycleEnacted',
];
/** The five live phases in order, and the event each appends. */
export const LIVE_PHASES = ['backup', 'legA', 'legB', 'verify', 'enact'] as const;
export type LivePhase = (typeof LIVE_PHASES)[number];
export const PHASE_EVENT: Record<LivePhase, string> = {
  backup: 'BackupTaken',
  legA: 'LegAWritten',
  legB: 'LegBRecorded',
  verify: 'WriteVerified',
  enact: 'LifecycleEnacted',
};

/**
 * Where a run stopped: `start` (before LiveRunStarted was recorded), a live phase (the first whose
 * event is missing; `committed` when that phase's backup row or target receipt exists already, so
 * the fault fell between its commit and its event), or `end` (every phase event recorded).
 */
export interface Landing {
  phase: 'start' | LivePhase | 'end';
  committed: boolean;
}

export interface TrialSpec {
  /** Unique within the workspace (letters and digits): names the cut and tags its titles. */
  tag: string;
  fault: Fault;
  /** When the fault is injected, in ms after the runner process was spawned (or see `from`). */
  atMs: number;
  /**
   * `phases`: atMs counts from the moment the runner's target adapter first connects (right after
   * LiveRunStarted is recorded, before the first phase) rather than from the spawn, so the fault
   * falls among the phases whatever the machine's load makes of start-up. Default `spawn`.
   */
  from?: 'spawn' | 'phases';
  /** `restart` only: how long the server stays down. */
  downMs?: number;
  /** `terminate` only: which application_names to terminate (default: all the runner's). */
  applicationNames?: string[];
}

export interface TrialEnv {
  ws: TestWorkspace;
  /** Admin URL of the server holding the workspace (for pg_terminate_backend). */
  adminUrl: string;
  /** Required for `restart`: the workspace must live on it. */
  server?: ScratchServer;
  /** Rows planned per trial cut (default CRASH_ROWS) and rows the workspace was seeded with (default CRASH_SEEDED). */
  rows?: number;
  seeded?: number;
  /** Re-runs allowed after the faulted run (default 5). */
  maxReruns?: number;
  /** A run still going after this long is SIGKILLed and reported as hung (default 120 s). */
  runTimeoutMs?: number;
}

export interface RunOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  ms: number;
  hung: boolean;
}

export interface TrialResult {
  spec: TrialSpec;
  cutId: string;
  /** Did the fault land while the first run was still going? */
  faultLanded: boolean;
  /** Where the faulted run stopped (when the fault landed). */
  landing?: Landing;
  /** Phases whose event ended marked `reconciled`. */
  reconciled: string[];
  /** Backends terminated (terminate) — 0 when the run had none open at that moment. */
  backendsTerminated: number;
  /** The first (faulted) run's outcome. */
  first: RunOutcome;
  /** Every run, the faulted one first. */
  runs: RunOutcome[];
  /** Re-runs needed to complete (0 when the faulted run still completed by itself). */
  reruns: number;
  completed: boolean;
  /** A run exited with an error (not a signal) although the cut was completed when it exited. */
  completedWithError: boolean;
  violations: string[];
  ms: number;
}

/** Plans, approves (alice, bob) and dry-runs the trial's cut; returns its id. */
export async function prepareTrialCut(
  ws: TestWorkspace,
  tag: string,
  rows = CRASH_ROWS,
  seeded = CRASH_SEEDED,
): Promise<string> {
  const cutId = `crash-${tag}`;
  const plan = bigPlan(cutId, rows, seeded);
  plan.changes = plan.changes.map((c: any) =>
    c.upsert ? { upsert: { ...c.upsert, title: `${c.upsert.title} [${tag}]` } } : c,
  );
  const file = ws.writePlan(cutId, plan);
  await ws.as('erin', (s) => planCut(s, file));
  await ws.as('alice', (s) => approveCut(s, cutId));
  await ws.as('bob', (s) => approveCut(s, cutId));
  await ws.as('erin', (s) => dryRun(s, cutId));
  return cutId;
}

/**
 * Runs `cutter run <cut> --live` as a child process. `inject`, when given, is called after
 * `atMs` with a function telling whether the child is still running.
 */
export function liveRun(
  ws: TestWorkspace,
  cutId: string,
  opts: {
    atMs?: number;
    inject?: (running: () => boolean, kill: () => boolean) => Promise<void>;
    timeoutMs?: number;
  } = {},
): Promise<RunOutcome & { injected?: Promise<void> }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [BIN, 'run', cutId, '--live', '--as', 'erin'], {
      cwd: ws.dir,
      env: { ...process.env, ...ws.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let exited = false;
    let hung = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const running = () => !exited;
    const kill = () => child.kill('SIGKILL');
    let injected: Promise<void> | undefined;
    const timer = opts.inject ? setTimeout(() => (injected = opts.inject!(running, kill)), opts.atMs ?? 0) : undefined;
    const watchdog = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.on('close', (code, signal) => {
      exited = true;
      if (timer) clearTimeout(timer);
      clearTimeout(watchdog);
      resolve({ code, signal, stderr, ms: performance.now() - started, hung, ...(injected ? { injected } : {}) });
    });
  });
}

/**
 * From a separate admin connection: waits until the runner is mid-phase — its target adapter
 * (`cutter-live`) has a transaction (or a statement) in progress in `targetDb` — then, when `terminate` is given,
 * pg_terminate_backend on every backend named in it within `databases`, in the same statement.
 * Resolves with the number terminated (terminate) or true (wait only), or undefined when the run
 * ended first.
 */
export async function atPhase(
  adminUrl: string,
  targetDb: string,
  running: () => boolean,
  terminate?: { databases: string[]; applicationNames: string[] },
): Promise<number | undefined> {
  const admin = connect(adminUrl, { poolSize: 1, applicationName: 'cutter-fault-injector' });
  try {
    while (running()) {
      const [row] = await admin.query(sql`
        WITH phase AS (
          SELECT 1 FROM pg_stat_activity
          WHERE datname = ${targetDb} AND application_name = 'cutter-live' AND xact_start IS NOT NULL AND pid <> pg_backend_pid() LIMIT 1),
        hit AS (
          SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE ${terminate ? sql`true` : sql`false`} AND EXISTS (SELECT 1 FROM phase)
            AND datname = ANY (${terminate?.databases ?? []}::text[]) AND application_name = ANY (${terminate?.applicationNames ?? []}::text[])
            AND pid <> pg_backend_pid())
        SELECT EXISTS (SELECT 1 FROM phase) AS mid_phase, (SELECT count(*) FILTER (WHERE ok) FROM hit)::int AS terminated`);
      if (row.mid_phase) return row.terminated;
      await sleep(5);
    }
    return undefined;
  } finally {
    await admin.dispose();
  }
}

/** Waits until the runner's target adapter (`cutter-live`) has a connection to `targetDb`; false when the run ended first. */
async function adapterConnected(adminUrl: string, targetDb: string, running: () => boolean): Promise<boolean> {
  const admin = connect(adminUrl, { poolSize: 1, applicationName: 'cutter-fault-injector' });
  try {
    while (running()) {
      const [row] = await admin.query(
        sql`SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = ${targetDb} AND application_name = 'cutter-live') AS up`,
      );
      if (row.up) return true;
      await sleep(5);
    }
    return false;
  } finally {
    await admin.dispose();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One trial: prepare, fault the first run, re-run until complete, check. Never throws on a violation. */
export async function runCrashTrial(env: TrialEnv, spec: TrialSpec): Promise<TrialResult> {
  const started = performance.now();
  const { ws } = env;
  const rows = env.rows ?? CRASH_ROWS;
  const seeded = env.seeded ?? CRASH_SEEDED;
  const cutId = await prepareTrialCut(ws, spec.tag, rows, seeded);
  let faultLanded = false;
  let backendsTerminated = 0;
  const databases = [ws.store.name, ws.target.db.name];

  const inject = async (running: () => boolean, kill: () => boolean): Promise<void> => {
    if (spec.from === 'phases') {
      if (!(await adapterConnected(env.adminUrl, ws.target.db.name, running))) return;
      await sleep(spec.atMs);
    }
    if (!running()) return;
    switch (spec.fault) {
      case 'sigkill':
        faultLanded = kill();
        return;
      case 'terminate': {
        // The first moment at or after atMs when a phase transaction is open on the target.
        const n = await atPhase(env.adminUrl, ws.target.db.name, running, {
          databases,
          applicationNames: spec.applicationNames ?? RUNNER_APPLICATION_NAMES,
        });
        backendsTerminated = n ?? 0;
        faultLanded = backendsTerminated > 0;
        return;
      }
      case 'restart': {
        if (!env.server) throw new Error('a restart trial needs a scratch server');
        // Likewise mid-phase: the whole server goes down under an open phase transaction.
        if ((await atPhase(env.adminUrl, ws.target.db.name, running)) === undefined) return;
        faultLanded = running();
        await env.server.stopImmediate();
        await sleep(spec.downMs ?? 0);
        await env.server.start();
        return;
      }
    }
  };

  const first = await liveRun(ws, cutId, {
    atMs: spec.from === 'phases' ? 0 : spec.atMs,
    inject,
    timeoutMs: env.runTimeoutMs,
  });
  // The injection may outlive the run (a restart takes a moment): the server must be up again.
  await first.injected;
  if (spec.fault === 'sigkill') faultLanded = first.signal === 'SIGKILL' && !first.hung;
  const violations: string[] = [];
  // Phases seen committed with their event missing, before any re-run: each must end reconciled.
  const mustReconcile = new Set<LivePhase>();
  const observe = async (): Promise<Landing> => {
    await runnerGone(env.adminUrl, databases);
    const l = await landingOf(ws, cutId);
    if (l.committed && l.phase !== 'start' && l.phase !== 'end') mustReconcile.add(l.phase);
    return l;
  };
  const landing = faultLanded ? await observe() : undefined;
  if (first.hung) violations.push(`the faulted run did not exit within ${env.runTimeoutMs ?? 120_000} ms (SIGKILLed)`);
  let last: RunOutcome = first;
  const runs: RunOutcome[] = [first];
  let reruns = 0;
  let completedWithError = false;
  const maxReruns = env.maxReruns ?? 5;
  // Re-run until the cut is completed. A run that exits with an error although the cut is
  // completed (the fault hit after the last phase was recorded) is noted, not re-run: a re-run of
  // a completed cut is refused ("nothing to run live"), as it should be.
  const done = async (run: RunOutcome) => {
    if (run.code === 0) return true;
    if (!(await cutCompleted(ws, cutId))) return false;
    if (run.signal === null) completedWithError = true;
    return true;
  };
  let completed = await done(first);
  // At least one re-run always (it shows what an operator would see); none after the cut ended.
  while (!completed && reruns < maxReruns && (reruns === 0 || !(await cutEnded(ws, cutId)))) {
    reruns++;
    if (reruns > 1 || !landing) await observe();
    last = await liveRun(ws, cutId, { timeoutMs: env.runTimeoutMs });
    runs.push(last);
    if (last.hung)
      violations.push(`re-run ${reruns} did not exit within ${env.runTimeoutMs ?? 120_000} ms (SIGKILLed)`);
    completed = await done(last);
  }
  if (!completed)
    violations.push(
      `not completed after ${reruns} re-run(s) (${(await cutEnded(ws, cutId)) ? 'the cut ended with a failure event: re-running cannot resume it' : 're-runs exhausted'}); last exit ${last.code ?? last.signal}: ${last.stderr.trim().split('\n').slice(0, 3).join(' | ')}`,
    );
  violations.push(...(await checkRecovery(ws, cutId, spec.tag, rows, seeded)));
  const reconciled = await reconciledPhases(ws, cutId);
  for (const p of LIVE_PHASES) {
    if (mustReconcile.has(p) && !reconciled.includes(p))
      violations.push(`${p} had committed before its event was recorded, but its event is not marked reconciled`);
    if (!mustReconcile.has(p) && reconciled.includes(p))
      violations.push(`${p} is marked reconciled, but it had not committed when its run was interrupted`);
  }
  return {
    spec,
    cutId,
    faultLanded,
    ...(landing ? { landing } : {}),
    reconciled,
    backendsTerminated,
    first,
    runs,
    reruns,
    completed,
    completedWithError,
    violations,
    ms: performance.now() - started,
  };
}

/**
 * Waits (up to 10 s) until no runner backend is left in `databases`: a killed client's COMMIT may
 * still sit in its backend's socket, and what the run left behind is only settled once that backend
 * has exited.
 */
export async function runnerGone(adminUrl: string, databases: string[]): Promise<void> {
  const admin = connect(adminUrl, { poolSize: 1, applicationName: 'cutter-fault-injector' });
  try {
    for (const until = performance.now() + 10_000; performance.now() < until; await sleep(10)) {
      const [row] = await admin.query(sql`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = ANY (${databases}::text[]) AND application_name = ANY (${RUNNER_APPLICATION_NAMES}::text[]) AND pid <> pg_backend_pid()`);
      if (row.n === 0) return;
    }
  } finally {
    await admin.dispose();
  }
}

/** Where the cut's live run stands now (see Landing). */
export async function landingOf(ws: TestWorkspace, cutId: string): Promise<Landing> {
  const store = connect(ws.store.url, { poolSize: 1, applicationName: 'cutter-checker' });
  let types: Set<string>;
  let runId: string | undefined;
  let backedUp = false;
  try {
    const events = await store.query(
      sql`SELECT type, data FROM cutter.events WHERE stream_id = ${`cut-${cutId}`} ORDER BY version`,
    );
    types = new Set(events.map((e) => e.type as string));
    runId = events.find((e) => e.type === 'LiveRunStarted')?.data.runId;
    if (runId)
      backedUp =
        (await store.query(sql`SELECT count(*)::int AS n FROM cutter.backups WHERE run_id = ${runId}`))[0].n > 0;
  } finally {
    await store.dispose();
  }
  if (!runId) return { phase: 'start', committed: false };
  const phase = LIVE_PHASES.find((p) => !types.has(PHASE_EVENT[p]));
  if (!phase) return { phase: 'end', committed: false };
  if (phase === 'backup') return { phase, committed: backedUp };
  const receipts = await ws.target
    .query`SELECT 1 FROM public.cutter_receipts WHERE run_id = ${runId} AND phase = ${phase}`.catch(() => []);
  return { phase, committed: receipts.length > 0 };
}

/** The live phases whose (single) event is marked `reconciled`. */
export async function reconciledPhases(ws: TestWorkspace, cutId: string): Promise<LivePhase[]> {
  const store = connect(ws.store.url, { poolSize: 1, applicationName: 'cutter-checker' });
  try {
    const events = await store.query(
      sql`SELECT type FROM cutter.events WHERE stream_id = ${`cut-${cutId}`} AND (data->>'reconciled')::boolean IS TRUE`,
    );
    return LIVE_PHASES.filter((p) => events.some((e) => e.type === PHASE_EVENT[p]));
  } finally {
    await store.dispose();
  }
}

/** Is the cut's last event one after which `cutter run --live` has nothing to resume? */
async function cutEnded(ws: TestWorkspace, cutId: string): Promise<boolean> {
  const store = connect(ws.store.url, { poolSize: 1, applicationName: 'cutter-checker' });
  try {
    const [row] = await store.query(
      sql`SELECT type FROM cutter.events WHERE stream_id = ${`cut-${cutId}`} ORDER BY version DESC LIMIT 1`,
    );
    return ['PhaseFailed', 'VerifyFailed', 'CutAborted'].includes(row?.type);
  } finally {
    await store.dispose();
  }
}

/** Is the cut's LifecycleEnacted (its last live phase) recorded? */
export async function cutCompleted(ws: TestWorkspace, cutId: string): Promise<boolean> {
  const store = connect(ws.store.url, { poolSize: 1, applicationName: 'cutter-checker' });
  try {
    const [row] = await store.query(
      sql`SELECT count(*)::int AS n FROM cutter.events WHERE stream_id = ${`cut-${cutId}`} AND type = 'LifecycleEnacted'`,
    );
    return row.n > 0;
  } finally {
    await store.dispose();
  }
}

/**
 * The recovery invariants after a trial's cut should have completed: every phase recorded exactly
 * once, no failure recorded, the backup stored once, receipts in the target equal to the events'
 * receipts, the target holding exactly the planned rows (all revised, all published, the planned
 * delete gone), and the log replaying clean. Returns violations; empty means recovered.
 */
export async function checkRecovery(
  ws: TestWorkspace,
  cutId: string,
  tag: string,
  planned = CRASH_ROWS,
  seeded = CRASH_SEEDED,
): Promise<string[]> {
  const v: string[] = [];
  const store = connect(ws.store.url, { poolSize: 1, applicationName: 'cutter-checker' });
  let events: any[];
  let backups = 0;
  try {
    events = await store.query(
      sql`SELECT type, data FROM cutter.events WHERE stream_id = ${`cut-${cutId}`} ORDER BY version`,
    );
    const runId = events.find((e) => e.type === 'LiveRunStarted')?.data.runId;
    if (runId)
      backups = (await store.query(sql`SELECT count(*)::int AS n FROM cutter.backups WHERE run_id = ${runId}`))[0].n;
  } finally {
    await store.dispose();
  }
  for (const type of PHASE_EVENTS) {
    const n = events.filter((e) => e.type === type).length;
    if (n !== 1) v.push(`${type} recorded ${n} times (expected once)`);
  }
  for (const type of ['PhaseFailed', 'VerifyFailed', 'RunHalted']) {
    const failed = events.filter((e) => e.type === type);
    if (failed.length)
      v.push(
        `${type} recorded: ${failed.map((e) => `${e.data.phase ?? ''} ${e.data.error?.message ?? e.data.reason ?? ''}`.trim()).join('; ')}`,
      );
  }
  const runId = events.find((e) => e.type === 'LiveRunStarted')?.data.runId;
  if (!runId) return v;
  if (backups !== 1) v.push(`backup stored ${backups} times for ${runId} (expected once)`);

  const receipts = await ws.target
    .query`SELECT phase, digest FROM public.cutter_receipts WHERE run_id = ${runId} ORDER BY phase`;
  const byPhase = Object.fromEntries(receipts.map((r) => [r.phase, r.digest]));
  const fromEvents: Record<string, unknown> = {
    enact: events.find((e) => e.type === 'LifecycleEnacted')?.data.receipt,
    legA: events.find((e) => e.type === 'LegAWritten')?.data.receipt,
    legB: events.find((e) => e.type === 'LegBRecorded')?.data.receipt,
    verify: events.find((e) => e.type === 'WriteVerified')?.data.receipt,
  };
  if (JSON.stringify(byPhase) !== JSON.stringify(fromEvents))
    v.push(`target receipts ${JSON.stringify(byPhase)} differ from event receipts ${JSON.stringify(fromEvents)}`);

  const [rows] = await ws.target.query`
    SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'published')::int AS published FROM public.documents WHERE title LIKE ${`% [${tag}]`}`;
  if (rows.n !== planned || rows.published !== planned)
    v.push(
      `target holds ${rows.n} rows of this cut (${rows.published} published), expected ${planned} (all published)`,
    );
  const last = await ws.target
    .query`SELECT title, body FROM public.documents WHERE id = ${`NEW-${String(planned).padStart(7, '0')}`}`;
  const want = [{ title: `title v2 ${planned} [${tag}]`, body: `body v2 ${planned} ✓` }];
  if (JSON.stringify(last) !== JSON.stringify(want))
    v.push(`last planned row is ${JSON.stringify(last)}, expected ${JSON.stringify(want)}`);
  const deleted = await ws.target
    .query`SELECT id FROM public.documents WHERE id = ${`KB-${String(seeded).padStart(4, '0')}`}`;
  if (deleted.length) v.push(`the planned delete of KB-${seeded} is not applied`);

  const report = await ws.as('auditor', async (s) => replayStore(await s.store(), cutId, { trustRoot: ws.root }));
  if (report.violations.length) v.push(`replay: ${JSON.stringify(report.violations)}`);
  return v;
}
