/**
 * A model of a cut's lifecycle written apart from the machine (machines/cut.ts): a small plain
 * state and, per command, the outcome the decider must give — the next state, or the refusal's
 * code. `deciderCommands` drives the real decider and fold with it through `fc.commands`: each
 * step either proposes a command the model says is legal now (weighted, so runs get deep: dry runs
 * complete, live runs finish, halt, fail, revert) or any command with any fault (another plan, run
 * or executor, a closed lock, a forged approval, a phase out of order). A clock command moves time,
 * so approvals expire. Nothing here reads the machine's transition table.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { MACHINE_VERSION } from '../../machines/cut.js';
import { toStorable, type DomainEvent, type LockEvidence, type Phase } from '../../events/index.js';
import {
  admit,
  evolve,
  fold,
  initialState,
  replay,
  stateName,
  summary,
  type CutState,
} from '../../src/domain/index.js';
import { CutterError } from '../../src/errors.js';
import { approval, at, HASH, OPEN, planned } from './cut-events.js';

export type Stage =
  | 'new'
  | 'planned'
  | 'approved'
  | 'dryRun'
  | 'live'
  | 'halted'
  | 'completed'
  | 'failed'
  | 'verifyFailed'
  | 'reverting'
  | 'revertFailed'
  | 'reverted'
  | 'aborted';

export interface ModelPolicy {
  requiredApprovals: number;
  approvalTtlSeconds: number;
  requireDryRun: boolean;
  roles?: string[];
}

export interface Model {
  stage: Stage;
  policy: ModelPolicy;
  /** Seconds since T0 (test/support/cut-events.ts): every event is stamped with it. */
  now: number;
  /** Approvals recorded, with the instant each was given. */
  approvals: { who: string; at: number }[];
  /** The last completed dry run. */
  dry: 'none' | 'passed' | 'failed';
  /** Phases simulated in the current dry run. */
  sims: number;
  /** Index (in PHASE_NAMES) of the phase the live run records next. */
  phase: number;
  /** The current run: dry, live or revert. */
  runId?: string;
  backupId?: string;
  /** Runs started so far (fresh run ids). */
  runs: number;
}

const PHASE_NAMES: Phase[] = ['backup', 'legA', 'legB', 'verify', 'enact'];
const PHASE_EVENTS = ['BackupTaken', 'LegAWritten', 'LegBRecorded', 'WriteVerified', 'LifecycleEnacted'] as const;
const LIVE_SUBSTATES = ['backingUp', 'legA', 'legB', 'verifying', 'enacting'];
/** Who may approve, and with which roles; erin is the author (four-eyes). */
const PEOPLE = ['alice', 'bob', 'mallory', 'erin'] as const;
const ROLES: Record<string, string[]> = { alice: ['dba'], bob: ['sre'], mallory: ['dba'], erin: ['dba'] };
const OTHER_HASH = '9'.repeat(64);
const OTHER_RUN = 'run-of-someone-else';
const AUTHOR = 'erin';

/** The random choices of one step; a kind reads the ones it needs. */
export interface Choice {
  guided: boolean;
  /** In [0, 1): which kind, by weight. */
  pick: number;
  who: number;
  forged: boolean;
  fault: 'none' | 'otherPlan' | 'otherRun' | 'simExecutor';
  lock: 'open' | 'config' | 'env' | 'killSwitch';
  /** 0: the phase the model expects; otherwise that many phases further. */
  phaseShift: number;
  passed: boolean;
  otherBackup: boolean;
  dt: number;
  /** The clock moves to the instant an approval expires (or one second before or after it). */
  toExpiry: boolean;
}

export type Kind =
  | 'plan'
  | 'approve'
  | 'dryStart'
  | 'simulate'
  | 'dryDone'
  | 'liveStart'
  | 'livePhase'
  | 'verifyFailed'
  | 'phaseFailed'
  | 'halt'
  | 'resume'
  | 'continue'
  | 'revertStart'
  | 'reverted'
  | 'revertFailed'
  | 'abort'
  | 'clock';

/** Weights of the kinds when a step proposes a legal command (an abort ends the run: rare). */
const WEIGHTS: Record<Kind, number> = {
  plan: 5,
  approve: 5,
  dryStart: 1.5,
  simulate: 8,
  dryDone: 8,
  liveStart: 8,
  livePhase: 10,
  verifyFailed: 6,
  phaseFailed: 1.5,
  halt: 2,
  resume: 4,
  continue: 1.5,
  revertStart: 4,
  reverted: 2,
  revertFailed: 1.5,
  abort: 0.1,
  clock: 1.5,
};
export const KINDS = Object.keys(WEIGHTS) as Kind[];

type Outcome = { ok: true; next: Model } | { ok: false; code: 'IllegalTransition' | 'GovernanceRefused' };
const illegal: Outcome = { ok: false, code: 'IllegalTransition' };
const governance: Outcome = { ok: false, code: 'GovernanceRefused' };
const ok = (m: Model, patch: Partial<Model>): Outcome => ({ ok: true, next: { ...m, ...patch } });

/** The machine state name the model expects (`live.legA`, `halted`). */
export function modelState(m: Model): string {
  return m.stage === 'live' ? `live.${LIVE_SUBSTATES[m.phase]}` : m.stage;
}

/** The approvals meet the policy: enough distinct approvers, one with a required role. */
function meetsPolicy(m: Model, approvals: Model['approvals']): boolean {
  const who = new Set(approvals.map((a) => a.who));
  const roles = m.policy.roles;
  return (
    who.size >= m.policy.requiredApprovals &&
    (!roles || roles.length === 0 || [...who].some((w) => ROLES[w]!.some((r) => roles.includes(r))))
  );
}

/** The approvals meet the policy counting only those not expired now. */
const validNow = (m: Model) =>
  meetsPolicy(
    m,
    m.approvals.filter((a) => m.now - a.at <= m.policy.approvalTtlSeconds),
  );

/** How far the clock moves: `dt`, or to an approval's expiry ± 1 s when that lies ahead. */
function dtOf(m: Model, c: Choice): number {
  const a = m.approvals[c.who % Math.max(1, m.approvals.length)];
  const target = a ? a.at + m.policy.approvalTtlSeconds + (c.dt % 3) - 1 : 0;
  return c.toExpiry && target > m.now ? target - m.now : c.dt;
}

const runOf = (m: Model, c: Choice) => (c.fault === 'otherRun' ? OTHER_RUN : (m.runId ?? OTHER_RUN));
const runOk = (m: Model, c: Choice) => c.fault !== 'otherRun' && m.runId !== undefined;
/** A live event on the current run that names the live executor. */
const liveRunOk = (m: Model, c: Choice) => runOk(m, c) && c.fault !== 'simExecutor';
const freshRun = (m: Model, prefix: string) => `${prefix}${m.runs + 1}`;
const phaseIndex = (m: Model, c: Choice) => (m.phase + c.phaseShift) % PHASE_NAMES.length;
const REVERTIBLE: Stage[] = ['completed', 'failed', 'verifyFailed', 'halted', 'revertFailed'];

/** The outcome the decider must give for `kind` with `choice` in the model state `m`. */
export function expected(m: Model, kind: Kind, c: Choice): Outcome {
  if (kind === 'clock') return ok(m, { now: m.now + dtOf(m, c) });
  if (kind === 'plan') return m.stage === 'new' ? ok(m, { stage: 'planned' }) : illegal;
  if (m.stage === 'new') return illegal;
  // The plan is immutable: an event bound to another plan hash is refused by governance.
  if (c.fault === 'otherPlan') return governance;
  const lockOpen = c.lock === 'open';
  switch (kind) {
    case 'approve': {
      const who = PEOPLE[c.who]!;
      if (m.stage !== 'planned' && m.stage !== 'approved') return illegal;
      if (m.approvals.some((a) => a.who === who) || who === AUTHOR || c.forged) return governance;
      const approvals = [...m.approvals, { who, at: m.now }];
      return ok(m, { approvals, stage: m.stage === 'planned' && meetsPolicy(m, approvals) ? 'approved' : m.stage });
    }
    case 'dryStart':
      return m.stage === 'planned' || m.stage === 'approved'
        ? ok(m, { stage: 'dryRun', sims: 0, runId: freshRun(m, 'd'), runs: m.runs + 1 })
        : illegal;
    case 'simulate':
      return m.stage === 'dryRun' && runOk(m, c) && m.sims < 5 && (m.sims + c.phaseShift) % 5 === m.sims
        ? ok(m, { sims: m.sims + 1 })
        : illegal;
    case 'dryDone':
      if (m.stage !== 'dryRun' || !runOk(m, c) || m.sims !== 5) return illegal;
      return ok(m, {
        stage: meetsPolicy(m, m.approvals) ? 'approved' : 'planned',
        dry: c.passed ? 'passed' : 'failed',
        runId: undefined,
      });
    case 'liveStart': {
      if (m.stage !== 'approved' && m.stage !== 'planned') return illegal;
      const allowed =
        m.stage === 'approved' && lockOpen && validNow(m) && (!m.policy.requireDryRun || m.dry === 'passed');
      if (!allowed) return governance;
      return c.fault === 'simExecutor'
        ? illegal
        : ok(m, { stage: 'live', phase: 0, runId: freshRun(m, 'l'), runs: m.runs + 1 });
    }
    case 'livePhase': {
      if (m.stage !== 'live' || !liveRunOk(m, c) || phaseIndex(m, c) !== m.phase) return illegal;
      const next = m.phase + 1;
      return ok(m, {
        phase: next,
        ...(m.phase === 0 ? { backupId: `bk-${m.runId}` } : {}),
        ...(next === 5 ? { stage: 'completed' as const } : {}),
      });
    }
    case 'verifyFailed':
      return m.stage === 'live' && liveRunOk(m, c) && m.phase === 3 ? ok(m, { stage: 'verifyFailed' }) : illegal;
    case 'phaseFailed':
    case 'halt':
      if (m.stage !== 'live' || !liveRunOk(m, c) || c.phaseShift !== 0) return illegal;
      return ok(m, { stage: kind === 'halt' ? 'halted' : 'failed' });
    case 'resume':
      if (m.stage !== 'halted') return illegal;
      if (!lockOpen || !validNow(m)) return governance;
      return liveRunOk(m, c) ? ok(m, { stage: 'live' }) : illegal;
    case 'continue': {
      if (m.stage !== 'live' && m.stage !== 'reverting') return illegal;
      if (!lockOpen || (m.stage === 'live' && !validNow(m))) return governance;
      return liveRunOk(m, c) ? ok(m, {}) : illegal;
    }
    case 'revertStart':
      if (!REVERTIBLE.includes(m.stage)) return illegal;
      if (!lockOpen || !m.backupId) return governance;
      return c.otherBackup || c.fault === 'simExecutor'
        ? illegal
        : ok(m, { stage: 'reverting', runId: freshRun(m, 'rv'), runs: m.runs + 1 });
    case 'reverted':
    case 'revertFailed':
      return m.stage === 'reverting' && liveRunOk(m, c)
        ? ok(m, { stage: kind === 'reverted' ? 'reverted' : 'revertFailed' })
        : illegal;
    case 'abort':
      return m.stage === 'planned' || m.stage === 'approved' ? ok(m, { stage: 'aborted' }) : illegal;
  }
}

const locks = (c: Choice): LockEvidence =>
  c.lock === 'open' ? OPEN : { ...OPEN, [c.lock]: false, killSwitchVersion: c.lock === 'killSwitch' ? 1 : 0 };

/** The event a command proposes in the model state `m` (none for the clock). */
export function eventFor(m: Model, kind: Kind, c: Choice): DomainEvent | undefined {
  const t = at(m.now);
  const planHash = c.fault === 'otherPlan' ? OTHER_HASH : HASH;
  const sim = { planHash, executor: 'simulator' as const, at: t };
  const live = {
    planHash,
    executor: (c.fault === 'simExecutor' ? 'simulator' : 'postgres-table') as 'postgres-table',
    at: t,
    runId: runOf(m, c),
  };
  const evidence = { at: t, locks: locks(c), approvals: m.approvals.map((a) => a.who) };
  switch (kind) {
    case 'clock':
      return undefined;
    case 'plan': {
      const { roles, ...rest } = m.policy;
      return planned({ ...rest, ...(roles ? { roles } : {}) });
    }
    case 'approve': {
      const who = PEOPLE[c.who]!;
      return approval(who, m.now, {
        roles: ROLES[who]!,
        ...(c.forged ? { forgeWith: who === 'mallory' ? 'alice' : 'mallory' } : {}),
        ...(c.fault === 'otherPlan' ? { planHash } : {}),
      });
    }
    case 'dryStart':
      return { type: 'DryRunStarted', data: { ...sim, runId: freshRun(m, 'd') } };
    case 'simulate':
      return {
        type: 'PhaseSimulated',
        data: { ...sim, runId: runOf(m, c), phase: PHASE_NAMES[(m.sims + c.phaseShift) % 5]!, digest: 'b'.repeat(64) },
      };
    case 'dryDone':
      return {
        type: 'DryRunCompleted',
        data: {
          ...sim,
          runId: runOf(m, c),
          passed: c.passed,
          diff: { inserts: 1, updates: 0, deletes: 0, unchanged: 0 },
          expectedPostImageHash: 'c'.repeat(64),
          nonMutation: {
            preImageHashBefore: 'a'.repeat(64),
            preImageHashAfter: c.passed ? 'a'.repeat(64) : 'd'.repeat(64),
          },
        },
      };
    case 'liveStart':
      return { type: 'LiveRunStarted', data: { ...live, runId: freshRun(m, 'l'), evidence } };
    case 'livePhase': {
      const receipt = `r-${m.now}`;
      switch (PHASE_EVENTS[phaseIndex(m, c)]!) {
        case 'BackupTaken':
          return {
            type: 'BackupTaken',
            data: {
              ...live,
              backupId: `bk-${live.runId}`,
              plaintextHash: 'e'.repeat(64),
              preImageHash: 'a'.repeat(64),
              rowCount: 1,
              recipients: ['F'],
              receipt,
            },
          };
        case 'LegAWritten':
          return {
            type: 'LegAWritten',
            data: { ...live, inserted: 1, updated: 0, deleted: 0, digest: 'c'.repeat(64), receipt },
          };
        case 'LegBRecorded':
          return { type: 'LegBRecorded', data: { ...live, ledgerId: '1', digest: 'f'.repeat(64), receipt } };
        case 'WriteVerified':
          return {
            type: 'WriteVerified',
            data: { ...live, expectedHash: 'c'.repeat(64), actualHash: 'c'.repeat(64), receipt },
          };
        case 'LifecycleEnacted':
          return { type: 'LifecycleEnacted', data: { ...live, skipped: false, rows: 1, receipt } };
      }
      throw new Error('unreachable');
    }
    case 'verifyFailed':
      return {
        type: 'VerifyFailed',
        data: {
          ...live,
          expectedHash: 'c'.repeat(64),
          actualHash: 'd'.repeat(64),
          mismatches: [{ key: '{"id":"A"}', reason: 'differs' }],
        },
      };
    case 'phaseFailed':
      return {
        type: 'PhaseFailed',
        data: {
          ...live,
          phase: PHASE_NAMES[phaseIndex(m, c)]!,
          error: { code: 'Drift', message: 'a planned row changed' },
        },
      };
    case 'halt':
      return {
        type: 'RunHalted',
        data: {
          ...live,
          phase: PHASE_NAMES[phaseIndex(m, c)]!,
          reason: 'kill-switch engaged',
          locks: { ...OPEN, killSwitch: false, killSwitchVersion: 1 },
        },
      };
    case 'resume':
      return { type: 'RunResumed', data: { ...live, evidence } };
    case 'continue':
      return { type: 'RunContinued', data: { ...live, evidence } };
    case 'revertStart':
      return {
        type: 'RevertStarted',
        data: {
          ...live,
          runId: freshRun(m, 'rv'),
          backupId: c.otherBackup ? 'bk-other' : (m.backupId ?? 'bk-none'),
          force: false,
          evidence: { at: t, locks: locks(c) },
        },
      };
    case 'reverted':
      return {
        type: 'CutReverted',
        data: {
          ...live,
          restoredHash: 'a'.repeat(64),
          backupPreImageHash: 'a'.repeat(64),
          rows: 1,
          receipt: `r-${m.now}`,
        },
      };
    case 'revertFailed':
      return { type: 'RevertFailed', data: { ...live, error: { code: 'Interrupted', message: 'connection lost' } } };
    case 'abort':
      return { type: 'CutAborted', data: { planHash, reason: 'no longer needed', at: t } };
  }
}

/** What a guided step keeps of its choice: no fault, open locks, the expected phase. */
const clean = (c: Choice): Choice => ({
  ...c,
  forged: false,
  fault: 'none',
  lock: 'open',
  phaseShift: 0,
  otherBackup: false,
});

/** The kind and choice a step resolves to in `m`: weighted among the legal kinds when guided, else any kind. */
export function resolve(m: Model, c: Choice): { kind: Kind; choice: Choice } {
  const choice = c.guided ? clean(c) : c;
  // Guided: the legal kinds, and (less often) those governance refuses now — an operator trying a
  // live start, a resume or a revert with approvals expired, say.
  const verdicts = new Map(KINDS.map((k) => [k, expected(m, k, choice)]));
  const kinds = c.guided
    ? KINDS.filter((k) => verdicts.get(k)!.ok || (verdicts.get(k) as { code?: string }).code === 'GovernanceRefused')
    : KINDS;
  // Any command: every kind alike, so each is refused often enough in every state.
  const weight = (k: Kind) => (c.guided ? WEIGHTS[k] * (verdicts.get(k)!.ok ? 1 : 0.3) : 1);
  const total = kinds.reduce((s, k) => s + weight(k), 0);
  let x = c.pick * total;
  for (const k of kinds) {
    x -= weight(k);
    if (x < 0) return { kind: k, choice };
  }
  return { kind: kinds[kinds.length - 1]!, choice };
}

/** What the runs reached: machine states, and per kind how often it was accepted and refused. */
export interface Coverage {
  states: Map<string, number>;
  accepted: Map<Kind, number>;
  refused: Map<string, number>;
  runs: number;
  steps: number;
  maxDepth: number;
}

export const newCoverage = (): Coverage => ({
  states: new Map(),
  accepted: new Map(),
  refused: new Map(),
  runs: 0,
  steps: 0,
  maxDepth: 0,
});
const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

interface Real {
  state: CutState;
  accepted: DomainEvent[];
}

const fail = (message: string): never => {
  throw new Error(message);
};

/** One step: the model's expected outcome against the real decider, then the fold. */
class Step implements fc.Command<Model, Real> {
  #label = '(not run)';
  constructor(
    readonly choice: Choice,
    readonly coverage: Coverage,
  ) {}
  /** A guided step after the cut ended has nothing legal left to propose but the clock: skipped. */
  check(m: Readonly<Model>): boolean {
    return !(this.choice.guided && (m.stage === 'reverted' || m.stage === 'aborted'));
  }
  run(m: Model, r: Real): void {
    const { kind, choice } = resolve(m, this.choice);
    const want = expected(m, kind, choice);
    const event = eventFor(m, kind, choice);
    const where = `${kind} in ${modelState(m)}`;
    this.#label = `${kind}${this.choice.guided ? '' : `(${choice.fault},${choice.lock},+${choice.phaseShift}${choice.forged ? ',forged' : ''}${choice.otherBackup ? ',otherBackup' : ''})`}@${m.now}`;
    this.coverage.steps++;
    if (event) {
      let got: DomainEvent[] | undefined;
      let err: unknown;
      try {
        got = admit(event, r.state);
      } catch (e) {
        err = e;
      }
      if (want.ok) {
        if (!got) fail(`${where}: the model accepts, the decider refuses: ${String((err as Error)?.message)}`);
        if (!isDeepStrictEqual(got, [event])) fail(`${where}: the decider returned other events`);
        r.state = evolve(r.state, event);
        r.accepted.push(event);
        bump(this.coverage.accepted, kind);
      } else {
        if (got) fail(`${where}: the model refuses (${want.code}), the decider accepts`);
        if (!(err instanceof CutterError)) fail(`${where}: refused with ${String(err)}, not a CutterError`);
        if ((err as CutterError).code !== want.code)
          fail(
            `${where}: refused with ${(err as CutterError).code}, the model says ${want.code}: ${(err as Error).message}`,
          );
        bump(this.coverage.refused, `${kind}:${want.code}`);
      }
    } else {
      bump(this.coverage.accepted, kind);
    }
    if (want.ok) Object.assign(m, want.next);
    const name = stateName(r.state);
    if (name !== modelState(m)) fail(`${where}: the machine is in ${name}, the model in ${modelState(m)}`);
    const s = summary(r.state);
    if (m.stage !== 'new') {
      if (
        !isDeepStrictEqual(
          s.approvals,
          m.approvals.map((a) => a.who),
        )
      )
        fail(`${where}: approvals ${s.approvals} vs model ${m.approvals.map((a) => a.who)}`);
      if (s.backupId !== (m.backupId ?? null)) fail(`${where}: backup ${s.backupId} vs model ${m.backupId}`);
      if ((s.lastDryRun?.passed ?? null) !== (m.dry === 'none' ? null : m.dry === 'passed'))
        fail(`${where}: last dry run ${JSON.stringify(s.lastDryRun)} vs model ${m.dry}`);
      if (['dryRun', 'live', 'halted', 'reverting'].includes(m.stage) && s.runId !== m.runId)
        fail(`${where}: run ${s.runId} vs model ${m.runId}`);
    }
    bump(this.coverage.states, name);
  }
  toString(): string {
    return this.#label;
  }
}

export const policyArb: fc.Arbitrary<ModelPolicy> = fc.record(
  {
    requiredApprovals: fc.integer({ min: 1, max: 3 }),
    approvalTtlSeconds: fc.constantFrom(300, 3600),
    requireDryRun: fc.boolean(),
    roles: fc.constant(['sre']),
  },
  { requiredKeys: ['requiredApprovals', 'approvalTtlSeconds', 'requireDryRun'] },
);

export const choiceArb: fc.Arbitrary<Choice> = fc.record({
  guided: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  // Unbiased: fast-check's bias towards small values would pick the first kind nearly always.
  pick: fc.noBias(fc.integer({ min: 0, max: 999_999 })).map((n) => n / 1_000_000),
  who: fc.nat({ max: PEOPLE.length - 1 }),
  forged: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  fault: fc.constantFrom('none', 'none', 'otherPlan', 'otherRun', 'simExecutor'),
  lock: fc.constantFrom('open', 'open', 'open', 'config', 'env', 'killSwitch'),
  phaseShift: fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 4 }) },
  ),
  passed: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  otherBackup: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  toExpiry: fc.boolean(),
  dt: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 120 }) },
    { weight: 2, arbitrary: fc.integer({ min: 200, max: 2000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 4000, max: 8000 }) },
  ),
});

const stored = (events: DomainEvent[]) =>
  events.map((e, i) => ({ ...toStorable(e, { machineVersion: MACHINE_VERSION }), version: i + 1 }));

/**
 * The property: from a new cut, a command sequence run against the model and the real decider;
 * afterwards the accepted history replays clean and folds to the same state. Coverage accumulates.
 */
export function deciderProperty(coverage: Coverage, maxCommands = 90) {
  const commands = fc.commands([choiceArb.map((c) => new Step(c, coverage))], { maxCommands, size: 'max' });
  return fc.property(policyArb, commands, (policy, cmds) => {
    const model: Model = { stage: 'new', policy, now: 0, approvals: [], dry: 'none', sims: 0, phase: 0, runs: 0 };
    const real: Real = { state: initialState(), accepted: [] };
    bump(coverage.states, stateName(real.state));
    coverage.runs++;
    fc.modelRun(() => ({ model, real }), cmds);
    coverage.maxDepth = Math.max(coverage.maxDepth, real.accepted.length);
    const r = replay(stored(real.accepted));
    if (r.violations.length > 0)
      fail(`replay of an accepted history reports ${JSON.stringify(r.violations.slice(0, 3))}`);
    if (!isDeepStrictEqual(summary(r.state), summary(real.state))) fail('replay folds to another state');
    if (!isDeepStrictEqual(summary(fold(stored(real.accepted))), summary(real.state)))
      fail('fold folds to another state');
  });
}

/** The machine's atomic states, from its definition (history pseudo-states left out). */
export function machineStates(root: { states?: Record<string, unknown> }, prefix = ''): string[] {
  return Object.entries(root.states ?? {}).flatMap(([key, node]) => {
    const n = node as { type: string; states?: Record<string, unknown> };
    if (n.type === 'history') return [];
    const name = prefix ? `${prefix}.${key}` : key;
    return n.type === 'compound' ? machineStates(n, name) : [name];
  });
}
