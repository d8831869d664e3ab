/**
 * A cut's commands and its decider: `decide(command, state)` returns the events a command records,
 * or throws a typed refusal naming every unmet condition. The decisions the runner used to make
 * live here, where the decider specs reach them: whether a live run starts, resumes after a halt or
 * continues after a crash; which event a phase's outcome records (a failed verify included); whether
 * a revert starts or an interrupted one is taken up; whether a dry run passed. Run ids, times and
 * call-time evidence arrive in the command; nothing here reads a clock or does I/O. Every event is
 * then admitted by the machine (`admit`, decide.ts), so a command can never record what the machine
 * refuses.
 */
import {
  LIVE_EXECUTOR,
  SIM_EXECUTOR,
  type DomainEvent,
  type LiveEvidence,
  type LockEvidence,
} from '../../events/index.js';
import type { Phase } from '../../events/common.js';
import { GovernanceRefusedError, IllegalTransitionError } from '../errors.js';
import { admit } from './decide.js';
import { context, evolve, nextLivePhase, stateName, type CutState } from './state.js';

type EventData<T extends DomainEvent['type']> = Extract<DomainEvent, { type: T }>['data'];
/** What a phase's target transaction reports: its event's data without the run's own fields. */
type Outcome<T extends DomainEvent['type']> = Omit<EventData<T>, 'runId' | 'planHash' | 'executor' | 'at'>;
type Failure = { code: string; message: string };

/** What the live adapter reported for each phase (verify: whether the rows match the plan). */
export type PhaseOutcome =
  | { phase: 'backup'; result: Outcome<'BackupTaken'> }
  | { phase: 'legA'; result: Outcome<'LegAWritten'> }
  | { phase: 'legB'; result: Outcome<'LegBRecorded'> }
  | { phase: 'verify'; result: ({ ok: true } & Outcome<'WriteVerified'>) | ({ ok: false } & Outcome<'VerifyFailed'>) }
  | { phase: 'enact'; result: Outcome<'LifecycleEnacted'> };

export type CutCommand =
  | { type: 'PlanCut'; data: EventData<'CutPlanned'> }
  | { type: 'ApproveCut'; data: EventData<'ApprovalGranted'> }
  | { type: 'StartDryRun'; runId: string; at: string }
  | ({ type: 'CompleteDryRun'; runId: string; at: string; phases: { phase: Phase; digest: string }[] } & Pick<
      EventData<'DryRunCompleted'>,
      'diff' | 'expectedPostImageHash' | 'nonMutation'
    >)
  /**
   * Run the cut live: start it (`runId` names the new run), resume it after a halt, or continue it
   * after a crash. `refusals` are the reasons found at call time (closed locks, approvals that no
   * longer hold under the governance in force); any of them refuses the command.
   */
  | { type: 'RunLive'; runId: string; at: string; evidence: LiveEvidence; refusals: string[] }
  | { type: 'HaltRun'; phase: Phase; at: string; reason: string; locks: LockEvidence }
  | ({ type: 'RecordPhase'; at: string } & PhaseOutcome)
  | { type: 'FailPhase'; phase: Phase; at: string; error: Failure }
  /**
   * Revert the cut (`runId` names the new revert) or take up an interrupted revert. `force` is the
   * operator's request on a new revert, what its RevertStarted recorded on a resumed one (a forced
   * revert, new or resumed, must be signed by an admin); `refusals` the closed locks read now.
   */
  | {
      type: 'Revert';
      runId: string;
      at: string;
      force: boolean;
      signer: { name: string; admin: boolean };
      locks: LockEvidence;
      refusals: string[];
    }
  | ({ type: 'RecordRevert'; at: string } & Omit<Outcome<'CutReverted'>, 'backupPreImageHash'>)
  | { type: 'FailRevert'; at: string; error: Failure };

/** The fields every event of the run in progress carries. */
function runOf(state: CutState) {
  const c = context(state);
  return { runId: c.runId!, planHash: c.planHash, executor: LIVE_EXECUTOR };
}

/** The events `command` records in `state`; throws GovernanceRefused or IllegalTransition otherwise. */
export function decide(command: CutCommand, state: CutState): DomainEvent[] {
  return admitted(eventsOf(command, state), state);
}

/** Each event admitted by the machine in turn (the state evolving between them). */
function admitted(events: DomainEvent[], state: CutState): DomainEvent[] {
  let s = state;
  for (const e of events) {
    admit(e, s);
    s = evolve(s, e);
  }
  return events;
}

function eventsOf(command: CutCommand, state: CutState): DomainEvent[] {
  const c = context(state);
  const cut = c.cutId || '(unplanned)';
  switch (command.type) {
    case 'PlanCut':
      return [{ type: 'CutPlanned', data: command.data }];
    case 'ApproveCut':
      return [{ type: 'ApprovalGranted', data: command.data }];
    case 'StartDryRun':
      return [
        {
          type: 'DryRunStarted',
          data: { runId: command.runId, planHash: c.planHash, executor: SIM_EXECUTOR, at: command.at },
        },
      ];
    case 'CompleteDryRun':
      return dryRunCompleted(command, state);
    case 'RunLive':
      return runLive(command, state, cut);
    case 'HaltRun': {
      const { phase, at, reason, locks } = command;
      return [{ type: 'RunHalted', data: { ...runOf(state), at, phase, reason, locks } }];
    }
    case 'RecordPhase':
      return [phaseEvent(command, state, cut)];
    case 'FailPhase':
      return [
        { type: 'PhaseFailed', data: { ...runOf(state), at: command.at, phase: command.phase, error: command.error } },
      ];
    case 'Revert':
      return revert(command, state, cut);
    case 'RecordRevert': {
      const { type: _type, at, ...outcome } = command;
      return [
        {
          type: 'CutReverted',
          data: { ...runOf(state), at, ...outcome, backupPreImageHash: c.backup!.preImageHash },
        },
      ];
    }
    case 'FailRevert':
      return [{ type: 'RevertFailed', data: { ...runOf(state), at: command.at, error: command.error } }];
    default: {
      const never: never = command;
      return never;
    }
  }
}

/** The simulated phases and the verdict: a dry run passes when the target's rows were the same before and after it. */
function dryRunCompleted(command: Extract<CutCommand, { type: 'CompleteDryRun' }>, state: CutState): DomainEvent[] {
  const base = { runId: command.runId, planHash: context(state).planHash, executor: SIM_EXECUTOR, at: command.at };
  const { preImageHashBefore, preImageHashAfter } = command.nonMutation;
  return [
    ...command.phases.map((p): DomainEvent => ({ type: 'PhaseSimulated', data: { ...base, ...p } })),
    {
      type: 'DryRunCompleted',
      data: {
        ...base,
        passed: preImageHashBefore === preImageHashAfter,
        diff: command.diff,
        expectedPostImageHash: command.expectedPostImageHash,
        nonMutation: command.nonMutation,
      },
    },
  ];
}

/** Start (planned or approved), resume (halted) or continue (crashed mid-phase) the live run. */
function runLive(command: Extract<CutCommand, { type: 'RunLive' }>, state: CutState, cut: string): DomainEvent[] {
  const name = stateName(state);
  const c = context(state);
  const { at, evidence } = command;
  const continuing = name.startsWith('live.');
  if (!continuing && !['planned', 'approved', 'halted'].includes(name))
    throw new IllegalTransitionError(`cut ${cut} is ${name}: nothing to run live`, { state: name, event: 'RunLive' });
  if (command.refusals.length > 0)
    throw new GovernanceRefusedError(
      continuing ? `resuming the interrupted live run of cut ${cut} refused` : `live run of cut ${cut} refused`,
      command.refusals,
    );
  if (continuing) return [{ type: 'RunContinued', data: { ...runOf(state), at, evidence } }];
  if (name === 'halted') return [{ type: 'RunResumed', data: { ...runOf(state), at, evidence } }];
  return [
    {
      type: 'LiveRunStarted',
      data: { runId: command.runId, planHash: c.planHash, executor: LIVE_EXECUTOR, at, evidence },
    },
  ];
}

/** The event a phase's outcome records: only for the phase the run is at; a failed verify is VerifyFailed. */
function phaseEvent(command: Extract<CutCommand, { type: 'RecordPhase' }>, state: CutState, cut: string): DomainEvent {
  const next = nextLivePhase(state);
  if (command.phase !== next)
    throw new IllegalTransitionError(
      `cut ${cut} is ${stateName(state)}: the ${command.phase} phase is not the one to ` +
        `record${next ? ` (${next} is)` : ''}`,
      { state: stateName(state), event: 'RecordPhase' },
    );
  const base = { ...runOf(state), at: command.at };
  switch (command.phase) {
    case 'backup':
      return { type: 'BackupTaken', data: { ...base, ...command.result } };
    case 'legA':
      return { type: 'LegAWritten', data: { ...base, ...command.result } };
    case 'legB':
      return { type: 'LegBRecorded', data: { ...base, ...command.result } };
    case 'verify': {
      const { ok, ...result } = command.result;
      if (ok) return { type: 'WriteVerified', data: { ...base, ...(result as Outcome<'WriteVerified'>) } };
      return { type: 'VerifyFailed', data: { ...base, ...(result as Outcome<'VerifyFailed'>) } };
    }
    case 'enact':
      return { type: 'LifecycleEnacted', data: { ...base, ...command.result } };
  }
}

/** Start a revert, or take up the interrupted one (evidence first); forced reverts need an admin. */
function revert(command: Extract<CutCommand, { type: 'Revert' }>, state: CutState, cut: string): DomainEvent[] {
  const resuming = stateName(state) === 'reverting';
  const c = context(state);
  if (command.force && !command.signer.admin)
    throw new GovernanceRefusedError(
      `revert --force of cut ${cut} refused: a forced revert must be signed by an admin (${command.signer.name} is ` +
        `not one)`,
    );
  if (command.refusals.length > 0)
    throw new GovernanceRefusedError(
      `${resuming ? 'resuming the interrupted revert' : 'revert'} of cut ${cut} refused`,
      command.refusals,
    );
  const { at, locks } = command;
  if (resuming)
    return [{ type: 'RunContinued', data: { ...runOf(state), at, evidence: { at, locks, approvals: [] } } }];
  return [
    {
      type: 'RevertStarted',
      data: {
        runId: command.runId,
        planHash: c.planHash,
        executor: LIVE_EXECUTOR,
        at,
        backupId: c.backup?.backupId ?? '',
        force: command.force,
        evidence: { at, locks },
      },
    },
  ];
}
