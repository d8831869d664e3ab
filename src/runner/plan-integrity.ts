/**
 * Re-hashing before running: the runner executes the plan CutPlanned recorded only after proving
 * it is the plan that was approved — it hashes to its recorded plan hash, which is the cut's — and,
 * for a change-set plan, that the stored change file hashes to the recorded SHA-256 and holds the
 * recorded count. Replay would notice a forged plan only afterwards; this refuses before.
 */
import { parseStored, type CutPlan } from '../../events/index.js';
import { changesOf } from '../cuts/changes.js';
import type { CutState } from '../domain/index.js';
import { targetDefinitionProblems, type TargetSpec } from '../config/target.js';
import { GovernanceRefusedError, VerificationFailedError } from '../errors.js';
import type { Session } from '../workspace/session.js';
import type { EventStore } from '../store/index.js';
import { planIntegrityReasons } from './checks.js';

/**
 * The cut's recorded plan, verified (see the module header). Throws VerificationFailedError naming
 * what differs; reads only the store.
 */
export async function verifiedPlan(
  store: EventStore,
  events: { type: string; data: any; metadata?: Record<string, unknown> | null }[],
  state: CutState,
): Promise<CutPlan> {
  const cutId = state.snapshot.context.cutId;
  // The CutPlanned the fold accepted: the first one whose schema holds.
  const planned = events.find((e) => e.type === 'CutPlanned' && parseStored(e).success);
  if (!planned) throw new VerificationFailedError(`cut ${cutId}: no valid CutPlanned event in the stream`);
  const reasons = planIntegrityReasons(
    { plan: planned.data.plan, planHash: planned.data.planHash },
    state.snapshot.context.planHash,
  );
  if (reasons.length > 0)
    throw new VerificationFailedError(
      `cut ${cutId}: the recorded plan is not the plan that was approved; nothing was run`,
      { reasons },
    );
  const plan = planned.data.plan as CutPlan;
  if (plan.changeSet) {
    try {
      for await (const batch of changesOf(plan, store.db)()) void batch;
    } catch (err) {
      if (!(err instanceof VerificationFailedError)) throw err;
      throw new VerificationFailedError(
        `cut ${cutId}: the change set does not match the plan (sha256 ${plan.changeSet.sha256.slice(0, 12)}…, ` +
          `${plan.changeSet.count} changes); nothing was run`,
        {
          reasons: [err.message],
        },
      );
    }
  }
  return plan;
}

/**
 * The configured target the cut runs against, refused (GovernanceRefusedError, nothing written)
 * unless it is the target the cut was planned and approved for: approvals name the plan, and the
 * plan names the target only by name, so what the name means (table, key, columns, what enact sets)
 * is held to what CutPlanned recorded. A config edited after approval cannot send the approved
 * rows to another table or have enact set another column.
 */
export async function plannedTarget(
  session: Session,
  events: { type: string; data: any }[],
  state: CutState,
  plan: CutPlan,
): Promise<TargetSpec> {
  const cutId = state.snapshot.context.cutId;
  const spec = await session.target(plan.target);
  const planned = events.find((e) => e.type === 'CutPlanned' && parseStored(e).success);
  if (!planned) throw new VerificationFailedError(`cut ${cutId}: no valid CutPlanned event in the stream`);
  const problems = targetDefinitionProblems(planned.data, spec);
  if (problems.length > 0)
    throw new GovernanceRefusedError(
      `cut ${cutId} refused: target ${plan.target} in the config is not the target the cut was planned and approved for; nothing was run`,
      problems,
    );
  return spec;
}
