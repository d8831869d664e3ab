/**
 * The cut read models, each a pure function of one cut stream: `cuts` (state, target, plan hash,
 * author, approvals, last run), `runs` (mode, phases with receipts and digests, timings, outcome).
 * The cut's state comes from folding the machine, so the read model can never disagree with it.
 */
import type { DomainEvent } from '../../events/index.js';
import { parseStored } from '../../events/index.js';
import { context, initialState, summary, tryEvolve, type CutState } from '../domain/state.js';
import type { ProjectionEvent, ProjectionRow } from './projection.js';
import { cutIdOf } from '../../events/streams.js';

export interface RunRow {
  runId: string;
  cutId: string;
  mode: 'dry-run' | 'live' | 'revert';
  startedAt: string;
  endedAt: string | null;
  outcome: string;
  actor: string | null;
  phases: {
    phase: string;
    at: string;
    receipt?: string;
    digest?: string;
    reconciled?: boolean;
    rows?: Record<string, number>;
  }[];
  diff?: { inserts: number; updates: number; deletes: number; unchanged: number };
}

export interface CutRows {
  cut: ProjectionRow;
  runs: ProjectionRow[];
}

const PHASE_OF: Partial<Record<DomainEvent['type'], string>> = {
  BackupTaken: 'backup',
  LegAWritten: 'legA',
  LegBRecorded: 'legB',
  WriteVerified: 'verify',
  VerifyFailed: 'verify',
  LifecycleEnacted: 'enact',
  CutReverted: 'revert',
};

/** Rows of one cut stream. Events the machine refuses are skipped (replay reports them). */
export function projectCut(streamId: string, events: ProjectionEvent[]): CutRows {
  let state: CutState = initialState();
  const runs = new Map<string, RunRow>();
  let planned: Record<string, unknown> = {};
  let updatedAt = '';
  for (const e of events) {
    const parsed = parseStored(e);
    if (!parsed.success) continue;
    const ev = parsed.data;
    const next = tryEvolve(state, ev);
    if (!next) continue;
    state = next;
    updatedAt = e.recordedAt;
    const d = ev.data as Record<string, any>;
    const actor = typeof e.metadata.actor === 'string' ? e.metadata.actor : null;
    if (ev.type === 'CutPlanned')
      planned = { reason: ev.data.reason, rowCount: ev.data.rowCount, table: ev.data.table, plannedAt: ev.data.at };
    if (ev.type === 'DryRunStarted' || ev.type === 'LiveRunStarted' || ev.type === 'RevertStarted') {
      const mode = ev.type === 'DryRunStarted' ? 'dry-run' : ev.type === 'LiveRunStarted' ? 'live' : 'revert';
      runs.set(d.runId, {
        runId: d.runId,
        cutId: context(state).cutId,
        mode,
        startedAt: d.at,
        endedAt: null,
        outcome: 'running',
        actor,
        phases: [],
      });
    }
    const run = typeof d.runId === 'string' ? runs.get(d.runId) : undefined;
    if (!run) continue;
    const phase = ev.type === 'PhaseSimulated' ? ev.data.phase : PHASE_OF[ev.type];
    if (phase) run.phases.push(phaseEntry(phase, d));
    endRun(run, ev, d.at);
  }
  const s = summary(state);
  const lastRun = [...runs.values()].at(-1);
  return {
    cut: {
      key: cutIdOf(streamId),
      row: {
        ...s,
        ...planned,
        updatedAt,
        lastRun: lastRun ? { runId: lastRun.runId, mode: lastRun.mode, outcome: lastRun.outcome } : null,
      },
    },
    runs: [...runs.values()].map((r) => ({
      key: `${cutIdOf(streamId)}/${r.runId}`,
      row: r as unknown as Record<string, unknown>,
    })),
  };
}

/** A run's record of one phase: when, its receipt and digest, whether reconciled, its row counts. */
function phaseEntry(phase: string, d: Record<string, any>): RunRow['phases'][number] {
  const rows: Record<string, number> = {};
  for (const k of ['inserted', 'updated', 'deleted', 'rowCount', 'rows']) if (typeof d[k] === 'number') rows[k] = d[k];
  return {
    phase,
    at: d.at,
    ...(d.receipt ? { receipt: d.receipt } : {}),
    ...(d.digest
      ? { digest: d.digest }
      : d.plaintextHash
        ? { digest: d.plaintextHash }
        : d.actualHash
          ? { digest: d.actualHash }
          : {}),
    ...(d.reconciled ? { reconciled: true } : {}),
    ...(Object.keys(rows).length ? { rows } : {}),
  };
}

/** The run's outcome after `ev` (recorded at `at`): ended, halted, resumed, or unchanged. */
function endRun(run: RunRow, ev: DomainEvent, at: string): void {
  const end = (outcome: string) => Object.assign(run, { outcome, endedAt: at });
  switch (ev.type) {
    case 'DryRunCompleted':
      end(ev.data.passed ? 'passed' : 'failed');
      run.diff = ev.data.diff;
      break;
    case 'LifecycleEnacted':
      end('completed');
      break;
    case 'VerifyFailed':
      end('verify-failed');
      break;
    case 'PhaseFailed':
      end(`failed at ${ev.data.phase}`);
      break;
    case 'RunHalted':
      Object.assign(run, { outcome: `halted before ${ev.data.phase}` });
      break;
    case 'RunResumed':
      Object.assign(run, { outcome: 'running' });
      break;
    case 'CutReverted':
      end('reverted');
      break;
    case 'RevertFailed':
      end('revert-failed');
      break;
    default:
      break;
  }
}

/** States in which a cut holds its target (at most one per target). */
export function holdsTarget(state: string): boolean {
  return state.startsWith('live') || state === 'halted' || state === 'reverting';
}
