/**
 * `cutter run <cut> --dry-run`: the simulator runs the five phases in memory over a READ ONLY read
 * of the target; every transition is recorded (DryRunStarted, five PhaseSimulated, DryRunCompleted)
 * with the diff summary and the non-mutation evidence. Can never write: it has no live adapter.
 */
import { randomUUID } from 'node:crypto';
import { executorFor } from '../adapters/index.js';
import type { Simulation } from '../adapters/port.js';
import { changesOf } from '../cuts/changes.js';
import { handle, loadCut } from '../cuts/handle.js';
import { stateName, type DomainEvent } from '../domain/index.js';
import type { Session } from '../workspace/session.js';
import { verifiedPlan } from './plan-integrity.js';
import { SIM_EXECUTOR } from '../../events/index.js';

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
  const spec = await session.target(plan.target);
  const runId = `dry-${randomUUID().slice(0, 8)}`;
  const base = { runId, planHash: c.planHash, executor: SIM_EXECUTOR };
  const meta = { actor: session.actor, correlationId: runId, auth: await session.authority() };
  await handle(store, cutId, () => [{ type: 'DryRunStarted', data: { ...base, at: new Date().toISOString() } }], meta);
  const sim = executorFor('dry-run', spec, changesOf(plan, store.db));
  let simulation: Simulation;
  try {
    simulation = await sim.simulate({ cutId, runId, planHash: c.planHash });
  } finally {
    await sim.close();
  }
  const passed = simulation.nonMutation.preImageHashBefore === simulation.nonMutation.preImageHashAfter;
  const at = new Date().toISOString();
  const events: DomainEvent[] = [
    ...simulation.phases.map((p): DomainEvent => ({
      type: 'PhaseSimulated',
      data: { ...base, phase: p.phase, digest: p.digest, at },
    })),
    {
      type: 'DryRunCompleted',
      data: {
        ...base,
        at,
        passed,
        diff: simulation.diff.counts,
        expectedPostImageHash: simulation.expectedPostImageHash,
        nonMutation: simulation.nonMutation,
      },
    },
  ];
  const result = await handle(store, cutId, () => events, meta);
  return { cutId, runId, passed, state: stateName(result.after), simulation };
}

/** The plan recorded by CutPlanned. */
export function planOf(events: { type: string; data: any }[]) {
  const planned = events.find((e) => e.type === 'CutPlanned');
  if (!planned) throw new Error('cut stream has no CutPlanned event');
  return planned.data.plan as import('../../events/plan.js').CutPlan;
}
