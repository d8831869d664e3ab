/**
 * The audit report's content, derived from events only (the seed report's shape, nothing typed by a
 * person): summary and outcome, gate roll-up, approvals, lock evidence, dry-run evidence, a
 * forbidden-action attestation in which every line cites the events that prove it, the hash-chain
 * head, the replay verdict, the timeline, and the machine's diagram with this cut's path.
 */
import { verifyApprovalSignature } from '../../machines/approvals.js';
import { cutMachine } from '../../machines/cut.js';
import { machineGraph, toDot, type Edge } from '../../machines/diagram.js';
import { foldLenient, initialState, replay, stateName, tryEvolve, type Violation } from '../domain/index.js';
import { LIVE_EXECUTOR, PHASE_GATES, parseStored, type EventOf, type EventType } from '../../events/index.js';
import type { StoredEvent } from '../store/index.js';
import type { TrustViolation } from '../domain/governance.js';

const sigOf = (e: StoredEvent): { key: string; governance: number } | undefined => {
  const s = e.metadata?.signature as { key?: unknown; governance?: unknown } | undefined;
  return typeof s?.key === 'string' && typeof s.governance === 'number'
    ? { key: s.key, governance: s.governance }
    : undefined;
};

export interface EventRef {
  streamId: string;
  version: number;
  type: string;
  hash: string;
}
export interface Gate {
  gate: string;
  outcome: 'PASS' | 'FAIL' | 'SKIPPED' | 'NOT RUN' | 'HALTED';
  at?: string;
  receipt?: string;
  detail?: string;
  reconciled?: boolean;
  events: EventRef[];
}
export interface Attestation {
  forbidden: string;
  status: 'NOT DONE' | 'VIOLATED';
  evidence: EventRef[];
  note: string;
}

export interface ReportModel {
  cut: {
    cutId: string;
    target: string;
    table: string;
    planHash: string;
    author: string;
    reason: string;
    rowCount: number;
    state: string;
    outcome: string;
    generatedAt: string;
  };
  gates: Gate[];
  approvals: {
    approver: string;
    roles: string[];
    at: string;
    signatureVerified: boolean;
    key: string | null;
    governanceVersion: number | null;
    event: EventRef;
  }[];
  /** Authority: the trust root replay checked from, and the governance versions the events were signed under. */
  trust: { root: string | null; governanceVersions: number[]; checked: boolean };
  lockEvidence: { kind: string; at: string; config: boolean; env: boolean; killSwitch: boolean; event: EventRef }[];
  dryRuns: {
    runId: string;
    passed: boolean;
    diff: Record<string, number>;
    expectedPostImageHash: string;
    nonMutation: { before: string; after: string; equal: boolean };
    event: EventRef;
  }[];
  attestations: Attestation[];
  chain: { streamId: string; headVersion: number; headHash: string; verified: boolean };
  violations: (Violation | TrustViolation)[];
  timeline: { version: number; at: string; type: string; actor: string; key: string | null }[];
  diagram: { dot: string; path: string[] };
}

const LIVE_PHASES: [string, string][] = Object.values(PHASE_GATES).map(({ gate, event }) => [gate, event]);
const MUTATIONS = new Set([
  'BackupTaken',
  'LegAWritten',
  'LegBRecorded',
  'WriteVerified',
  'LifecycleEnacted',
  'CutReverted',
]);

/** A stored event whose data parsed (upcast and validated): the report reads typed data only. */
type TypedStored = {
  [T in EventType]: Omit<StoredEvent, 'type' | 'data'> & { type: T; data: EventOf<T>['data'] };
}[EventType];
type StoredOf<T extends EventType> = Extract<TypedStored, { type: T }>;

/** The events whose data parses, typed; one that does not is a `schema` violation replay lists. */
function typedEvents(events: StoredEvent[]): TypedStored[] {
  return events.flatMap((e) => {
    const parsed = parseStored(e);
    return parsed.success ? [{ ...e, type: parsed.data.type, data: parsed.data.data } as TypedStored] : [];
  });
}

const lastOf = <T extends EventType>(events: TypedStored[], t: T): StoredOf<T> | undefined =>
  [...events].reverse().find((e): e is StoredOf<T> => e.type === t);

const runIdOf = (e: TypedStored): string | undefined => ('runId' in e.data ? e.data.runId : undefined);

function outcomeOf(state: string, events: TypedStored[]): string {
  const last = <T extends EventType>(t: T) => lastOf(events, t);
  if (state === 'completed') return 'COMPLETED — live cut applied, verified and enacted';
  if (state === 'reverted') return 'REVERTED — live cut applied, then restored from its backup';
  if (state === 'halted')
    return `HALTED before ${last('RunHalted')?.data.phase} — ${last('RunHalted')?.data.reason ?? 'a lock closed'}`;
  if (state === 'failed')
    return `FAILED at ${last('PhaseFailed')?.data.phase}: ${last('PhaseFailed')?.data.error.message}`;
  if (state === 'verifyFailed') return 'VERIFY FAILED — the target does not match the plan';
  return state.toUpperCase();
}

const ref = (e: StoredEvent): EventRef => ({ streamId: e.streamId, version: e.version, type: e.type, hash: e.hash });

/** Builds the model of one cut's report from its events and the store's chain verdict. */
/**
 * `trust`, when given, is replay's authority verdict on this cut (src/audit/replay.ts): the root it
 * checked from and the trust violations of this stream; an approval then counts as verified only
 * when replay found nothing wrong with it.
 */
export function buildReport(
  events: StoredEvent[],
  chainOk: boolean,
  generatedAt: string,
  trust?: { root: string | null; violations: TrustViolation[] },
): ReportModel {
  const typed = typedEvents(events);
  const of = <T extends EventType>(t: T): StoredOf<T>[] => typed.filter((e): e is StoredOf<T> => e.type === t);
  const planned = of('CutPlanned')[0]!;
  // Lenient: an illegal event is a violation listed below (replay flags it), not a reason to fail.
  const { state } = foldLenient(events);
  const name = stateName(state);
  const { violations } = replay(events);
  const path = pathOf(events);
  const head = events.at(-1)!;
  return {
    cut: {
      cutId: planned.data.cutId,
      target: planned.data.target,
      table: planned.data.table,
      planHash: planned.data.planHash,
      author: planned.data.author,
      reason: planned.data.reason,
      rowCount: planned.data.rowCount,
      state: name,
      outcome: outcomeOf(name, typed),
      generatedAt,
    },
    gates: gatesOf(typed, planned, state.snapshot.context.approvals.length),
    approvals: approvalsOf(of('ApprovalGranted'), trust),
    trust: {
      root: trust?.root ?? null,
      governanceVersions: [
        ...new Set(events.map((e) => sigOf(e)?.governance).filter((v): v is number => v !== undefined)),
      ],
      checked: Boolean(trust),
    },
    lockEvidence: startsOf(typed).map((e) => ({
      kind: e.type,
      at: e.data.evidence.at,
      ...e.data.evidence.locks,
      event: ref(e),
    })),
    dryRuns: of('DryRunCompleted').map(dryRunOf),
    attestations: attestationsOf(events, typed, planned, violations),
    chain: { streamId: head.streamId, headVersion: head.version, headHash: head.hash, verified: chainOk },
    violations: [...violations, ...(trust?.violations ?? [])],
    timeline: events.map((e) => ({
      version: e.version,
      at: e.recordedAt,
      type: e.type,
      actor: String(e.metadata.actor ?? '-'),
      key: sigOf(e)?.key ?? null,
    })),
    diagram: {
      dot: toDot(cutMachine, { highlight: { states: path.visited, transitions: path.taken } }),
      path: path.visited,
    },
  };
}

/** The gates of the report, in order: precheck, approvals, dry run, each live phase, revert. */
function gatesOf(typed: TypedStored[], planned: StoredOf<'CutPlanned'>, approved: number): Gate[] {
  const of = <T extends EventType>(t: T): StoredOf<T>[] => typed.filter((e): e is StoredOf<T> => e.type === t);
  const liveRunId = lastOf(typed, 'LiveRunStarted')?.data.runId;
  const gates: Gate[] = [
    {
      gate: 'precheck',
      outcome: 'PASS',
      at: planned.data.at,
      detail: `${planned.data.precheck.existing} existing, ${planned.data.precheck.absent} absent`,
      events: [ref(planned)],
    },
  ];
  const approvals = of('ApprovalGranted');
  gates.push({
    gate: 'approvals',
    outcome: approved >= planned.data.policy.requiredApprovals ? 'PASS' : 'NOT RUN',
    detail: `${approvals.length} of ${planned.data.policy.requiredApprovals} required`,
    events: approvals.map(ref),
  });
  const dry = of('DryRunCompleted').at(-1);
  const diff = dry?.data.diff;
  gates.push(
    dry
      ? {
          gate: 'dry run',
          outcome: dry.data.passed ? 'PASS' : 'FAIL',
          at: dry.data.at,
          detail: `${diff!.inserts} inserts, ${diff!.updates} updates, ${diff!.deletes} deletes`,
          events: [ref(dry)],
        }
      : { gate: 'dry run', outcome: 'NOT RUN', events: [] },
  );
  for (const [gate, type] of LIVE_PHASES) gates.push(livePhaseGate(typed, gate, type, liveRunId));
  const reverted = of('CutReverted').at(-1);
  gates.push(
    reverted
      ? {
          gate: 'revert',
          outcome: 'PASS',
          at: reverted.data.at,
          receipt: reverted.data.receipt,
          detail: `${reverted.data.rows} rows restored; hash equals backup`,
          events: [ref(reverted)],
        }
      : { gate: 'revert', outcome: 'NOT RUN', events: [] },
  );

  return gates;
}

/** The gate of one live phase in the latest live run: its event, its failure, a halt, or not run. */
function livePhaseGate(typed: TypedStored[], gate: string, type: string, liveRunId: string | undefined): Gate {
  const e = typed.find(
    (x) => (x.type === type || (type === 'WriteVerified' && x.type === 'VerifyFailed')) && runIdOf(x) === liveRunId,
  );
  const failed = typed.find(
    (x): x is StoredOf<'PhaseFailed'> =>
      x.type === 'PhaseFailed' &&
      x.data.runId === liveRunId &&
      gate.includes(x.data.phase === 'legA' ? 'leg_a' : x.data.phase === 'legB' ? 'leg_b' : x.data.phase),
  );
  // The phase events' fields differ; the gate reads the ones each may carry.
  const d: Record<string, unknown> = e?.data ?? {};
  const rows = ['inserted', 'updated', 'deleted', 'rowCount', 'rows']
    .filter((k) => typeof d[k] === 'number')
    .map((k) => `${k} ${d[k]}`)
    .join(', ');
  return e
    ? {
        gate,
        outcome: e.type === 'VerifyFailed' ? 'FAIL' : d.skipped ? 'SKIPPED' : 'PASS',
        at: typeof d.at === 'string' ? d.at : undefined,
        receipt: typeof d.receipt === 'string' ? d.receipt : undefined,
        detail: rows || (d.ledgerId ? `ledger row ${String(d.ledgerId)}` : ''),
        reconciled: d.reconciled === true,
        events: [ref(e)],
      }
    : failed
      ? { gate, outcome: 'FAIL', at: failed.data.at, detail: failed.data.error.message, events: [ref(failed)] }
      : {
          gate,
          outcome: typed.some((x) => x.type === 'RunHalted' && x.data.runId === liveRunId) ? 'HALTED' : 'NOT RUN',
          events: [],
        };
}

/** The events that opened a run (live start, resume, continue, revert) and carry lock evidence. */
function startsOf(typed: TypedStored[]) {
  return typed.filter(
    (e): e is StoredOf<'LiveRunStarted' | 'RunResumed' | 'RunContinued' | 'RevertStarted'> =>
      e.type === 'LiveRunStarted' || e.type === 'RunResumed' || e.type === 'RunContinued' || e.type === 'RevertStarted',
  );
}

/** What must never have happened, each with its status and the events that show it. */
function attestationsOf(
  events: StoredEvent[],
  typed: TypedStored[],
  planned: StoredOf<'CutPlanned'>,
  violations: Violation[],
): Attestation[] {
  const of = <T extends EventType>(t: T): StoredOf<T>[] => typed.filter((e): e is StoredOf<T> => e.type === t);
  const approvals = of('ApprovalGranted');
  const starts = startsOf(typed);
  const byRule = (r: string) => violations.filter((v) => v.rule === r);
  let halted = false;
  let writeAfterHalt: StoredEvent | undefined;
  for (const e of events) {
    if (e.type === 'RunHalted') halted = true;
    if (e.type === 'RunResumed' || e.type === 'RevertStarted') halted = false;
    if (halted && MUTATIONS.has(e.type)) writeAfterHalt = e;
  }
  const liveEvents = typed.filter((e) => 'executor' in e.data && e.data.executor === LIVE_EXECUTOR);
  return [
    {
      forbidden: 'Live execution through the simulator',
      status: byRule('executor-mode').length ? 'VIOLATED' : 'NOT DONE',
      evidence: liveEvents.slice(0, 8).map(ref),
      note: 'every live event names the postgres-table adapter; the simulator type cannot be obtained in live mode',
    },
    {
      forbidden: 'Mutation without the three locks open',
      status: byRule('locks-evidence').length ? 'VIOLATED' : 'NOT DONE',
      evidence: starts.map(ref),
      note: 'each start, resume and revert records config, env and kill-switch open',
    },
    {
      forbidden: 'Write after a kill-switch halt',
      status: writeAfterHalt ? 'VIOLATED' : 'NOT DONE',
      evidence: [...of('RunHalted'), ...of('RunResumed')].map(ref),
      note: 'no phase event between a halt and a resume',
    },
    {
      forbidden: 'Approval by the author',
      status: approvals.some((a) => a.data.approver === planned.data.author) ? 'VIOLATED' : 'NOT DONE',
      evidence: approvals.map(ref),
      note: `author ${planned.data.author}; approvers ${approvals.map((a) => a.data.approver).join(', ') || 'none'}`,
    },
    {
      forbidden: 'Plan changed after approval',
      status: byRule('plan-hash').length ? 'VIOLATED' : 'NOT DONE',
      evidence: [ref(planned)],
      note: `every event carries plan hash ${planned.data.planHash.slice(0, 12)}…`,
    },
    {
      forbidden: 'Illegal transition or skipped phase',
      status: violations.length ? 'VIOLATED' : 'NOT DONE',
      evidence: [ref(events.at(-1)!)],
      note:
        `replay of ${events.length} events through machine ${String(planned.metadata.machineVersion)}: ` +
        `${violations.length} violation(s)`,
    },
  ];
}

/** The path: states visited and transitions taken, mapped onto the machine graph's edges. */
function pathOf(events: StoredEvent[]): { visited: string[]; taken: Edge[] } {
  const graph = machineGraph(cutMachine);
  const visited: string[] = [];
  const taken: Edge[] = [];
  let s = initialState();
  let prev = stateName(s);
  for (const e of events) {
    const parsed = parseStored(e);
    const moved = parsed.success ? tryEvolve(s, parsed.data) : undefined;
    if (!moved) continue;
    s = moved;
    const next = stateName(s);
    const within = (st: string, node: string) =>
      st === node || st.startsWith(`${node}.`) || (node.endsWith('.hist') && st.startsWith(node.slice(0, -5)));
    const edge = graph.edges.find((g) => g.event === e.type && within(prev, g.from) && within(next, g.to));
    if (edge) taken.push(edge);
    for (const st of [prev, next])
      for (let i = 1; i <= st.split('.').length; i++) visited.push(st.split('.').slice(0, i).join('.'));
    prev = next;
  }
  return { visited: [...new Set(visited)], taken };
}

/** The approvals as the report lists them; verified by replay's trust verdict when given, else by signature. */
function approvalsOf(approvals: StoredOf<'ApprovalGranted'>[], trust?: { violations: TrustViolation[] }) {
  return approvals.map((a) => ({
    approver: a.data.approver,
    roles: a.data.roles,
    at: a.data.at,
    signatureVerified: trust ? !trust.violations.some((v) => v.version === a.version) : verifyApprovalSignature(a.data),
    key: sigOf(a)?.key ?? null,
    governanceVersion: sigOf(a)?.governance ?? null,
    event: ref(a),
  }));
}

/** A dry run as the report lists it, with its non-mutation proof. */
function dryRunOf(e: StoredOf<'DryRunCompleted'>) {
  return {
    runId: e.data.runId,
    passed: e.data.passed,
    diff: e.data.diff,
    expectedPostImageHash: e.data.expectedPostImageHash,
    nonMutation: {
      before: e.data.nonMutation.preImageHashBefore,
      after: e.data.nonMutation.preImageHashAfter,
      equal: e.data.nonMutation.preImageHashBefore === e.data.nonMutation.preImageHashAfter,
    },
    event: ref(e),
  };
}
