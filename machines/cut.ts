/**
 * The cut lifecycle as one XState v5 machine (DESIGN §3). Pure: no I/O, no clock. Guards are named,
 * synchronous and read only context and the event's recorded evidence, so replaying the log through
 * this machine re-proves every transition, including that each live start saw three open locks and
 * valid approvals. Events are the source of truth; a snapshot is never persisted.
 */
import { assign, setup } from 'xstate';
import {
  LIVE_EXECUTOR,
  Phase,
  SIM_EXECUTOR,
  type DomainEvent,
  type EventOf,
  type LockEvidence,
  type Policy,
} from '../events/index.js';
import { evaluateApprovals, verifyApprovalSignature, type ApprovalRecord } from './approvals.js';

export const MACHINE_VERSION = '1.1.0';
export { LIVE_EXECUTOR, SIM_EXECUTOR };
export const PHASES: readonly Phase[] = Phase.options;

export interface CutContext {
  cutId: string;
  planHash: string;
  author: string;
  /** The author's enrolled public key, when the plan was signed under governance (four-eyes by key). */
  authorKey?: string;
  target: string;
  policy: Policy;
  approvals: ApprovalRecord[];
  /** Whether each of `approvals` carried a valid signature, verified once when it was folded. */
  approvalSignatures: boolean[];
  lastDryRun?: { runId: string; passed: boolean; planHash: string };
  /** The current run (dry or live, or the revert run). */
  runId?: string;
  /** The next phase the current live run (or dry run) must record. */
  phase?: Phase;
  backup?: { backupId: string; runId: string; preImageHash: string; plaintextHash: string };
  liveRuns: number;
  /** How many times an interrupted run or revert was taken up again (RunContinued). */
  continuations?: number;
}

const EMPTY_POLICY: Policy = { requiredApprovals: 1, approvalTtlSeconds: 1, requireDryRun: true, maxRows: 1 };

type Ev<T extends DomainEvent['type']> = EventOf<T>;
/** A guard over one event type (the machine only routes that type to it). */
const g =
  <T extends DomainEvent['type']>(fn: (context: CutContext, event: Ev<T>) => boolean) =>
  ({ context, event }: { context: CutContext; event: DomainEvent }) =>
    fn(context, event as Ev<T>);
const dryRunDone = (context: CutContext, event: Ev<'DryRunCompleted'>) =>
  onPlan(context, event) &&
  event.data.runId === context.runId &&
  event.data.executor === SIM_EXECUTOR &&
  context.phase === undefined;

/** All three locks open in recorded evidence. */
export const locksOpen = (l: LockEvidence): boolean => l.config && l.env && l.killSwitch;

const onPlan = (context: CutContext, e: { data: { planHash: string } }) => e.data.planHash === context.planHash;
const liveRun = (context: CutContext, e: { data: { planHash: string; runId: string; executor: string } }) =>
  onPlan(context, e) && e.data.runId === context.runId && e.data.executor === LIVE_EXECUTOR;
const nextPhase = (p: Phase | undefined): Phase | undefined => (p ? PHASES[PHASES.indexOf(p) + 1] : undefined);

/**
 * The approvals in context (with their recorded signature verdicts), plus `extra` if given,
 * against the policy at `at`.
 */
const approvalsAt = (context: CutContext, at?: string, extra?: ApprovalRecord) => {
  const ctx = {
    cutId: context.cutId,
    planHash: context.planHash,
    author: context.author,
    authorKey: context.authorKey,
    policy: context.policy,
  };
  if (!extra) return evaluateApprovals(context.approvals, ctx, at, context.approvalSignatures);
  return evaluateApprovals([...context.approvals, extra], ctx, at, [
    ...context.approvalSignatures,
    verifyApprovalSignature(extra),
  ]);
};

export const cutMachine = setup({
  types: { context: {} as CutContext, events: {} as DomainEvent },
  guards: {
    // The new approval's signature is verified here (memoised: both guards and the action ask)
    // and its verdict recorded in context by `addApproval`; later guards read the verdicts.
    approvalAcceptable: g<'ApprovalGranted'>((context, event) => {
      const probe = {
        cutId: context.cutId,
        planHash: context.planHash,
        author: context.author,
        authorKey: context.authorKey,
        policy: { ...context.policy, requiredApprovals: 1, roles: [] },
      };
      return (
        !context.approvals.some((a) => a.approver === event.data.approver || a.publicKey === event.data.publicKey) &&
        evaluateApprovals([event.data], probe).ok
      );
    }),
    approvalCompletesPolicy: g<'ApprovalGranted'>(
      (context, event) =>
        !context.approvals.some((a) => a.approver === event.data.approver || a.publicKey === event.data.publicKey) &&
        approvalsAt(context, undefined, event.data).ok,
    ),
    dryRunStartAllowed: g<'DryRunStarted'>(
      (context, event) => onPlan(context, event) && event.data.executor === SIM_EXECUTOR,
    ),
    simulatedPhaseInOrder: g<'PhaseSimulated'>(
      (context, event) =>
        onPlan(context, event) &&
        event.data.runId === context.runId &&
        event.data.executor === SIM_EXECUTOR &&
        event.data.phase === context.phase,
    ),
    dryRunCompleteApproved: g<'DryRunCompleted'>(
      (context, event) => dryRunDone(context, event) && approvalsAt(context).ok,
    ),
    dryRunComplete: g<'DryRunCompleted'>((context, event) => dryRunDone(context, event)),
    liveStartAllowed: g<'LiveRunStarted'>((context, event) => {
      const ev = event.data.evidence;
      const dryRunOk =
        !context.policy.requireDryRun ||
        (context.lastDryRun?.passed === true && context.lastDryRun.planHash === context.planHash);
      return (
        onPlan(context, event) &&
        event.data.executor === LIVE_EXECUTOR &&
        locksOpen(ev.locks) &&
        approvalsAt(context, ev.at).ok &&
        dryRunOk
      );
    }),
    resumeAllowed: g<'RunResumed'>(
      (context, event) =>
        liveRun(context, event) &&
        locksOpen(event.data.evidence.locks) &&
        approvalsAt(context, event.data.evidence.at).ok,
    ),
    continueAllowed: g<'RunContinued'>(
      (context, event) =>
        liveRun(context, event) &&
        locksOpen(event.data.evidence.locks) &&
        approvalsAt(context, event.data.evidence.at).ok,
    ),
    revertContinueAllowed: g<'RunContinued'>(
      (context, event) => liveRun(context, event) && locksOpen(event.data.evidence.locks),
    ),
    backupPhase: g<'BackupTaken'>((context, event) => liveRun(context, event)),
    livePhase: g<'LegAWritten' | 'LegBRecorded' | 'WriteVerified' | 'VerifyFailed' | 'LifecycleEnacted'>(
      (context, event) => liveRun(context, event) && context.backup?.runId === context.runId,
    ),
    phaseEventMatches: g<'PhaseFailed' | 'RunHalted'>(
      (context, event) => liveRun(context, event) && event.data.phase === context.phase,
    ),
    revertAllowed: g<'RevertStarted'>(
      (context, event) =>
        onPlan(context, event) &&
        event.data.executor === LIVE_EXECUTOR &&
        locksOpen(event.data.evidence.locks) &&
        context.backup?.backupId === event.data.backupId,
    ),
    revertRun: g<'CutReverted' | 'RevertFailed'>((context, event) => liveRun(context, event)),
    abortAllowed: g<'CutAborted'>((context, event) => onPlan(context, event)),
  },
  actions: {
    plan: assign(({ event }) => {
      const d = (event as Ev<'CutPlanned'>).data;
      return {
        cutId: d.cutId,
        planHash: d.planHash,
        author: d.author,
        ...(d.authorKey ? { authorKey: d.authorKey } : {}),
        target: d.target,
        policy: d.policy,
        approvals: [],
        approvalSignatures: [],
        liveRuns: 0,
      };
    }),
    addApproval: assign({
      approvals: ({ context, event }) => [...context.approvals, (event as Ev<'ApprovalGranted'>).data],
      approvalSignatures: ({ context, event }) => [
        ...context.approvalSignatures,
        verifyApprovalSignature((event as Ev<'ApprovalGranted'>).data),
      ],
    }),
    startDryRun: assign({
      runId: ({ event }) => (event as Ev<'DryRunStarted'>).data.runId,
      phase: () => 'backup' as Phase,
    }),
    simulatePhase: assign({ phase: ({ context }) => nextPhase(context.phase) }),
    completeDryRun: assign({
      lastDryRun: ({ event }) => {
        const d = (event as Ev<'DryRunCompleted'>).data;
        return { runId: d.runId, passed: d.passed, planHash: d.planHash };
      },
      runId: () => undefined,
      phase: () => undefined,
    }),
    startLive: assign({
      runId: ({ event }) => (event as Ev<'LiveRunStarted'>).data.runId,
      phase: () => 'backup' as Phase,
      liveRuns: ({ context }) => context.liveRuns + 1,
    }),
    recordBackup: assign({
      backup: ({ event }) => {
        const d = (event as Ev<'BackupTaken'>).data;
        return { backupId: d.backupId, runId: d.runId, preImageHash: d.preImageHash, plaintextHash: d.plaintextHash };
      },
      phase: () => 'legA' as Phase,
    }),
    advance: assign({ phase: ({ context }) => nextPhase(context.phase) }),
    continueRun: assign({ continuations: ({ context }) => (context.continuations ?? 0) + 1 }),
    startRevert: assign({ runId: ({ event }) => (event as Ev<'RevertStarted'>).data.runId, phase: () => undefined }),
  },
}).createMachine({
  id: 'cut',
  initial: 'new',
  context: {
    cutId: '',
    planHash: '',
    author: '',
    target: '',
    policy: EMPTY_POLICY,
    approvals: [],
    approvalSignatures: [],
    liveRuns: 0,
  },
  states: {
    new: { on: { CutPlanned: { target: 'planned', actions: 'plan' } } },
    planned: {
      on: {
        ApprovalGranted: [
          { guard: 'approvalCompletesPolicy', target: 'approved', actions: 'addApproval' },
          { guard: 'approvalAcceptable', actions: 'addApproval' },
        ],
        DryRunStarted: { guard: 'dryRunStartAllowed', target: 'dryRun', actions: 'startDryRun' },
        CutAborted: { guard: 'abortAllowed', target: 'aborted' },
      },
    },
    approved: {
      on: {
        ApprovalGranted: { guard: 'approvalAcceptable', actions: 'addApproval' },
        DryRunStarted: { guard: 'dryRunStartAllowed', target: 'dryRun', actions: 'startDryRun' },
        LiveRunStarted: { guard: 'liveStartAllowed', target: 'live', actions: 'startLive' },
        CutAborted: { guard: 'abortAllowed', target: 'aborted' },
      },
    },
    dryRun: {
      on: {
        PhaseSimulated: { guard: 'simulatedPhaseInOrder', actions: 'simulatePhase' },
        DryRunCompleted: [
          { guard: 'dryRunCompleteApproved', target: 'approved', actions: 'completeDryRun' },
          { guard: 'dryRunComplete', target: 'planned', actions: 'completeDryRun' },
        ],
      },
    },
    live: {
      initial: 'backingUp',
      on: {
        PhaseFailed: { guard: 'phaseEventMatches', target: 'failed' },
        RunHalted: { guard: 'phaseEventMatches', target: 'halted' },
        RunContinued: { guard: 'continueAllowed', actions: 'continueRun' },
      },
      states: {
        backingUp: { on: { BackupTaken: { guard: 'backupPhase', target: 'legA', actions: 'recordBackup' } } },
        legA: { on: { LegAWritten: { guard: 'livePhase', target: 'legB', actions: 'advance' } } },
        legB: { on: { LegBRecorded: { guard: 'livePhase', target: 'verifying', actions: 'advance' } } },
        verifying: {
          on: {
            WriteVerified: { guard: 'livePhase', target: 'enacting', actions: 'advance' },
            VerifyFailed: { guard: 'livePhase', target: '#cut.verifyFailed' },
          },
        },
        enacting: { on: { LifecycleEnacted: { guard: 'livePhase', target: '#cut.completed', actions: 'advance' } } },
        hist: { type: 'history' },
      },
    },
    halted: {
      on: {
        RunResumed: { guard: 'resumeAllowed', target: 'live.hist' },
        RevertStarted: { guard: 'revertAllowed', target: 'reverting', actions: 'startRevert' },
      },
    },
    completed: { on: { RevertStarted: { guard: 'revertAllowed', target: 'reverting', actions: 'startRevert' } } },
    failed: { on: { RevertStarted: { guard: 'revertAllowed', target: 'reverting', actions: 'startRevert' } } },
    verifyFailed: { on: { RevertStarted: { guard: 'revertAllowed', target: 'reverting', actions: 'startRevert' } } },
    reverting: {
      on: {
        CutReverted: { guard: 'revertRun', target: 'reverted' },
        RunContinued: { guard: 'revertContinueAllowed', actions: 'continueRun' },
        RevertFailed: { guard: 'revertRun', target: 'revertFailed' },
      },
    },
    revertFailed: { on: { RevertStarted: { guard: 'revertAllowed', target: 'reverting', actions: 'startRevert' } } },
    reverted: { type: 'final' },
    aborted: { type: 'final' },
  },
});

export type CutMachine = typeof cutMachine;
