/**
 * `cutter plan`: validate the plan against its target, hash it, precheck read-only (the simulator:
 * how many planned keys exist now, and their pre-image hash), and record CutPlanned with the policy
 * in force in governance (never a local file's) and the author's enrolled key, signed by the author.
 */
import { memberOf } from '../../events/governance.js';
import { createReadStream } from 'node:fs';
import { changeCount, planHash } from '../../events/plan.js';
import { loadPlan } from '../config/plan.js';
import { executorFor } from '../adapters/index.js';
import { GovernanceRefusedError, IllegalTransitionError, InvalidInputError } from '../errors.js';
import { blobInfo, putBlob } from '../store/blobs.js';
import { changeSetBlobId } from './changes.js';
import type { Session } from '../workspace/session.js';
import { handleCut } from './handle.js';
import { cutStreamId } from '../../events/streams.js';
import type { CutPlan } from '../../events/index.js';
import { targetDefinition, type TargetSpec } from '../config/target.js';
import type { ChangeSource } from '../config/changes.js';

export interface PlanResult {
  cutId: string;
  planHash: string;
  target: string;
  rowCount: number;
  precheck: { preImageHash: string; existing: number; absent: number };
  state: string;
}

/** The target read through a dry-run adapter: the pre-image hash of the planned rows, and how many exist. */
async function precheckTarget(spec: TargetSpec, changes: ChangeSource): Promise<PlanResult['precheck']> {
  const sim = executorFor('dry-run', spec, changes);
  try {
    return await sim.precheck();
  } finally {
    await sim.close();
  }
}

/** The change file stored content-addressed, before the event that binds it (refused if it changed meanwhile). */
async function storeChangeFile(
  store: Awaited<ReturnType<Session['store']>>,
  file: string,
  set: NonNullable<CutPlan['changeSet']>,
  changesFile: string,
): Promise<void> {
  const id = changeSetBlobId(set.sha256);
  if (await blobInfo(store.db, id)) return;
  await store.db.tx(async (tx) => {
    const stored = await putBlob(tx, id, createReadStream(changesFile));
    if (stored.sha256 !== set.sha256)
      throw new InvalidInputError(`plan ${file}: changesFile changed while it was being planned; plan it again`);
  });
}

export async function planCut(session: Session, file: string): Promise<PlanResult> {
  const config = session.config();
  const auth = await session.authority();
  const policy = auth.registry.policy;
  const { plan, changes, changesFile } = await loadPlan(file, config, {
    actor: session.actor,
    maxRows: policy.maxRows,
  });
  if (plan.author !== auth.signer.name) {
    throw new GovernanceRefusedError(
      `plan ${file}: names author ${plan.author}, but it is signed by ${auth.signer.name} (the author is whoever ` +
        `signs the plan)`,
    );
  }
  const spec = await session.target(plan.target);
  const store = await session.store();
  if ((await store.streamVersion(cutStreamId(plan.id))) > 0) {
    throw new IllegalTransitionError(
      `cut ${plan.id} already exists (plans are immutable: give the new plan another id)`,
    );
  }
  const precheck = await precheckTarget(spec, changes);
  if (plan.changeSet && changesFile) await storeChangeFile(store, file, plan.changeSet, changesFile);
  const hash = planHash(plan);
  const at = new Date().toISOString();
  const result = await handleCut(
    store,
    plan.id,
    {
      type: 'PlanCut',
      data: {
        cutId: plan.id,
        plan,
        planHash: hash,
        target: plan.target,
        table: spec.table,
        definition: targetDefinition(spec),
        author: plan.author,
        reason: plan.reason,
        authorKey: memberOf(auth.registry, auth.signer.name)!.publicKey,
        rowCount: changeCount(plan),
        policy,
        precheck,
        at,
      },
    },
    auth,
    { correlationId: plan.id },
  );
  return {
    cutId: plan.id,
    planHash: hash,
    target: plan.target,
    rowCount: changeCount(plan),
    precheck,
    state: result.after.snapshot.value as string,
  };
}
