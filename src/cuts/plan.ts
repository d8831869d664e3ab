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

export interface PlanResult {
  cutId: string;
  planHash: string;
  target: string;
  rowCount: number;
  precheck: { preImageHash: string; existing: number; absent: number };
  state: string;
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
      `plan ${file}: names author ${plan.author}, but it is signed by ${auth.signer.name} (the author is whoever signs the plan)`,
    );
  }
  const spec = await session.target(plan.target);
  const store = await session.store();
  if ((await store.streamVersion(cutStreamId(plan.id))) > 0) {
    throw new IllegalTransitionError(
      `cut ${plan.id} already exists (plans are immutable: give the new plan another id)`,
    );
  }
  const sim = executorFor('dry-run', spec, changes);
  let precheck: PlanResult['precheck'];
  try {
    precheck = await sim.precheck();
  } finally {
    await sim.close();
  }
  if (plan.changeSet && changesFile) {
    // The change file goes into the store content-addressed, before the event that binds it.
    const set = plan.changeSet;
    const id = changeSetBlobId(set.sha256);
    if (!(await blobInfo(store.db, id))) {
      await store.db.tx(async (tx) => {
        const stored = await putBlob(tx, id, createReadStream(changesFile));
        if (stored.sha256 !== set.sha256)
          throw new InvalidInputError(`plan ${file}: changesFile changed while it was being planned; plan it again`);
      });
    }
  }
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
