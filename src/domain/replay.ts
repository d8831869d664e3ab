/**
 * Audit replay of one cut stream: every event re-parsed (with upcasting), re-checked by the machine
 * from the initial state, and DESIGN's invariants 1–5 checked explicitly, so a violation names the
 * rule it breaks rather than only "illegal". Replay continues past a violation where it can.
 */
import { hashOf, parseStored, type DomainEvent } from '../../events/index.js';
import { LIVE_EXECUTOR, locksOpen, SIM_EXECUTOR } from '../../machines/cut.js';
import { initialState, stateName, tryEvolve, type CutState, type StoredLike } from './state.js';

export type Rule =
  | 'hash-chain'
  | 'projection'
  | 'target-exclusive'
  | 'schema'
  | 'illegal-transition'
  | 'locks-evidence'
  | 'phase-order'
  | 'executor-mode'
  | 'plan-hash'
  | 'revert-without-backup'
  | 'version-gap'
  | 'change-set'
  | 'backup';

export interface Violation {
  streamId?: string;
  version: number;
  eventId?: string;
  type: string;
  rule: Rule;
  message: string;
}

export interface ReplayInput extends StoredLike {
  streamId?: string;
  eventId?: string;
  version: number;
}

const LIVE_MUTATIONS = new Set([
  'BackupTaken',
  'LegAWritten',
  'LegBRecorded',
  'WriteVerified',
  'VerifyFailed',
  'LifecycleEnacted',
]);
const DRY_EVENTS = new Set(['DryRunStarted', 'PhaseSimulated', 'DryRunCompleted']);
const LIVE_EXECUTOR_EVENTS = new Set([
  ...LIVE_MUTATIONS,
  'LiveRunStarted',
  'RunResumed',
  'RunContinued',
  'RunHalted',
  'PhaseFailed',
  'RevertStarted',
  'CutReverted',
  'RevertFailed',
]);
const LIVE_PHASE_ORDER = ['BackupTaken', 'LegAWritten', 'LegBRecorded', 'WriteVerified', 'LifecycleEnacted'];

/** Replays `events` (one stream, in version order). Pure. */
export function replay(events: ReplayInput[]): { state: CutState; violations: Violation[] } {
  let state = initialState();
  const violations: Violation[] = [];
  const rules: RulesSeen = { gate: { open: false }, lastLivePhase: -1, backupTaken: false };
  let expectedVersion = 1;

  for (const stored of events) {
    // The violation's location is built only when one is flagged (most events flag none).
    const flag: Flag = (rule, message) =>
      violations.push({
        ...(stored.streamId ? { streamId: stored.streamId } : {}),
        ...(stored.eventId ? { eventId: stored.eventId } : {}),
        version: stored.version,
        type: stored.type,
        rule,
        message,
      });
    checkEnvelope(stored, expectedVersion, flag);
    expectedVersion = stored.version + 1;
    const parsed = parseStored(stored);
    if (!parsed.success) {
      flag(
        'schema',
        parsed.error.issues
          .map((i) => `${i.path.join('.')}: ${i.message}`)
          .slice(0, 3)
          .join('; '),
      );
      continue;
    }
    const event: DomainEvent = parsed.data;
    const before = violations.length;
    checkRules(event, rules, flag);
    const next = tryEvolve(state, event);
    if (!next) {
      if (violations.length === before)
        flag('illegal-transition', `${event.type} is not allowed in state ${stateName(state)}`);
      continue;
    }
    state = next;
  }
  return { state, violations };
}

type Flag = (rule: Rule, message: string) => void;

/** What the rules remember from earlier events: the plan hash, the lock gate of the run, the live phases. */
interface RulesSeen {
  planHash?: string;
  gate: { open: boolean; runId?: string };
  lastLivePhase: number;
  backupTaken: boolean;
}

/** Before parsing: versions without gaps, and the executor each run's events may name. */
function checkEnvelope(stored: ReplayInput, expectedVersion: number, flag: Flag): void {
  if (stored.version !== expectedVersion)
    flag('version-gap', `version ${stored.version} where ${expectedVersion} was expected`);
  const raw = (stored.data ?? {}) as { executor?: unknown };
  if (DRY_EVENTS.has(stored.type) && raw.executor !== undefined && raw.executor !== SIM_EXECUTOR)
    flag('executor-mode', `dry-run event names executor ${String(raw.executor)}`);
  if (LIVE_EXECUTOR_EVENTS.has(stored.type) && raw.executor !== undefined && raw.executor !== LIVE_EXECUTOR)
    flag('executor-mode', `live event names executor ${String(raw.executor)}`);
}

/** The invariants beyond the machine: one plan hash, mutations behind open locks, live phases in order. */
function checkRules(event: DomainEvent, seen: RulesSeen, flag: Flag): void {
  const d = event.data as Record<string, any>;
  if (event.type === 'CutPlanned') {
    seen.planHash = event.data.planHash;
    if (hashOf(event.data.plan) !== seen.planHash)
      flag('plan-hash', 'the recorded plan does not hash to the recorded plan hash');
  } else if (typeof d.planHash === 'string' && seen.planHash && d.planHash !== seen.planHash)
    flag('plan-hash', `plan hash ${d.planHash.slice(0, 12)}… differs from the planned ${seen.planHash.slice(0, 12)}…`);
  checkLockGate(event, seen, flag);
  const phaseIndex = LIVE_PHASE_ORDER.indexOf(event.type === 'VerifyFailed' ? 'WriteVerified' : event.type);
  if (phaseIndex >= 0) {
    if (phaseIndex !== seen.lastLivePhase + 1)
      flag(
        'phase-order',
        `${event.type} after phase ${LIVE_PHASE_ORDER[seen.lastLivePhase] ?? 'start'}: skipped or repeated`,
      );
    seen.lastLivePhase = phaseIndex;
  }
  if (event.type === 'BackupTaken') seen.backupTaken = true;
  if (
    event.type === 'RunHalted' ||
    event.type === 'PhaseFailed' ||
    event.type === 'VerifyFailed' ||
    event.type === 'CutReverted'
  )
    seen.gate = { open: false };
}

/**
 * The lock gate: a start, resume or revert with all three locks open opens it for its run; every
 * mutation must come through an open gate of its own run.
 */
function checkLockGate(event: DomainEvent, seen: RulesSeen, flag: Flag): void {
  const d = event.data as Record<string, any>;
  if (event.type === 'RunContinued') {
    // Taking up an interrupted run keeps its gate; closed locks in its evidence close it.
    if (!locksOpen(event.data.evidence.locks)) {
      flag('locks-evidence', 'RunContinued recorded with a closed lock');
      seen.gate = { open: false };
    }
  }
  if (event.type === 'LiveRunStarted' || event.type === 'RunResumed' || event.type === 'RevertStarted') {
    const ok = locksOpen(event.data.evidence.locks);
    if (!ok) flag('locks-evidence', `${event.type} recorded with a closed lock`);
    seen.gate = { open: ok, runId: event.data.runId };
    if (event.type === 'LiveRunStarted') seen.lastLivePhase = -1;
    if (event.type === 'RevertStarted' && !seen.backupTaken)
      flag('revert-without-backup', 'revert started with no backup taken');
  }
  if (LIVE_MUTATIONS.has(event.type) || event.type === 'CutReverted') {
    if (!seen.gate.open || seen.gate.runId !== d.runId)
      flag(
        'locks-evidence',
        `${event.type} without a preceding start or resume of run ${d.runId} with all three locks open`,
      );
  }
}
