/**
 * `cutter run <cut> --dry-run`: the simulator runs the five phases in memory over a READ ONLY read
 * of the target; every transition is recorded (DryRunStarted, five PhaseSimulated, DryRunCompleted)
 * with the diff summary and the non-mutation evidence (the decider says whether it passed). Can
 * never write: it has no live adapter.
 */
import { randomUUID } from 'node:crypto';
import { executorFor } from '../adapters/index.js';
import type { Simulation } from '../adapters/port.js';
import { changesOf } from '../cuts/changes.js';
import { handleCut, loadCut } from '../cuts/handle.js';
import { context, stateName } from '../domain/index.js';
import type { Session } from '../workspace/session.js';
import { plannedTarget, verifiedPlan } from './plan-integrity.js';

export interface DryRunResult {
  cutId: string;
  runId: string;
  passed: boolean;
  state: string;
  simulation: Simulation;
}

/**
 * Records a dry run of the cut: DryRunStarted, five PhaseSimulated, DryRunCompleted. Reads the
 * target only inside READ ONLY transactions; never writes it. Throws GovernanceRefusedError when the
 * session's member may not run, VerificationFailedError when the plan no longer hashes to its record.
 */
export async function dryRun(session: Session, cutId: string): Promise<DryRunResult> {
  const store = await session.store();
  const { state, events: recorded } = await loadCut(store, cutId);
  const c = state.snapshot.context;
  const plan = await verifiedPlan(store, recorded, state);
  const spec = await plannedTarget(session, recorded, state, plan);
  const runId = `dry-${randomUUID().slice(0, 8)}`;
  const auth = await session.authority();
  const correlation = { correlationId: runId };
  await handleCut(store, cutId, { type: 'StartDryRun', runId, at: new Date().toISOString() }, auth, correlation);
  const sim = executorFor('dry-run', spec, changesOf(plan, store.db));
  let simulation: Simulation;
  try {
    simulation = await sim.simulate({ cutId, runId, planHash: c.planHash });
  } finally {
    await sim.close();
  }
  const result = await handleCut(
    store,
    cutId,
    {
      type: 'CompleteDryRun',
      runId,
      at: new Date().toISOString(),
      phases: simulation.phases.map((p) => ({ phase: p.phase, digest: p.digest })),
      diff: simulation.diff.counts,
      expectedPostImageHash: simulation.expectedPostImageHash,
      nonMutation: simulation.nonMutation,
    },
    auth,
    correlation,
  );
  const passed = context(result.after).lastDryRun?.passed === true;
  return { cutId, runId, passed, state: stateName(result.after), simulation };
}

/** The plan recorded by CutPlanned. */
export function planOf(events: { type: string; data: any }[]) {
  const planned = events.find((e) => e.type === 'CutPlanned');
  if (!planned) throw new Error('cut stream has no CutPlanned event');
  return planned.data.plan as import('../../events/plan.js').CutPlan;
}
