/**
 * The dry-run simulator: the same five phases in memory over a pre-image read only inside READ ONLY
 * transactions (PostgreSQL itself refuses any write there). It produces the diff, the expected
 * post-image hash and non-mutation evidence: the pre-image hash read before and after.
 */
import { canonicalJson, hashOf } from '../../events/canonical.js';
import type { CutPlan } from '../../events/plan.js';
import type { TargetSpec } from '../config/target.js';
import { connect, type ConnectionPool, type Transaction } from '../store/connection.js';
import { expectedPostImage, keyText, managed, normalisedPlan, plannedKeys, preImageHash, project, readPreImage } from './images.js';
import type { DryRunDiff, PreImageEntry, Simulation, Simulator } from './port.js';

export function createSimulator(spec: TargetSpec, plan: CutPlan): Simulator {
  const db: ConnectionPool = connect(spec.url, { poolSize: 1, applicationName: 'cutter-simulator' });
  const readOnly = <T>(fn: (tx: Transaction) => Promise<T>) => db.tx(fn, { readOnly: true });

  const snapshot = () =>
    readOnly(async (tx) => {
      const n = await normalisedPlan(tx, spec, plan);
      const keys = plannedKeys(spec, n);
      return { n, keys, pre: await readPreImage(tx, spec, keys) };
    });

  return {
    executor: 'simulator',

    async precheck() {
      const { pre } = await snapshot();
      const existing = pre.filter((p) => p.row).length;
      return { preImageHash: preImageHash(pre), existing, absent: pre.length - existing };
    },

    async simulate(ctx) {
      const before = await snapshot();
      const { n, keys, pre } = before;
      const cols = managed(spec);
      const current = new Map(pre.map((p) => [keyText(spec, p.key), p.row]));
      const diff: DryRunDiff = { inserts: [], updates: [], deletes: [], unchanged: [] };
      for (const u of n.upserts) {
        const now = current.get(keyText(spec, u));
        if (!now) diff.inserts.push(u);
        else {
          const changes = spec.columns.filter((c) => canonicalJson(now[c] ?? null) !== canonicalJson(u[c] ?? null)).map((c) => ({ column: c, from: now[c] ?? null, to: u[c] ?? null }));
          if (changes.length) diff.updates.push({ key: project(u, spec.key), changes });
          else diff.unchanged.push(project(u, spec.key));
        }
      }
      for (const d of n.deletes) (current.get(keyText(spec, d)) ? diff.deletes : diff.unchanged).push(d);
      const post = expectedPostImage(spec, n, keys);
      const expectedPostImageHash = hashOf(post);
      const backupDigest = hashOf({ cutId: ctx.cutId, planHash: ctx.planHash, preImage: pre });
      const phases: Simulation['phases'] = [
        { phase: 'backup', digest: backupDigest },
        { phase: 'legA', digest: expectedPostImageHash },
        { phase: 'legB', digest: hashOf({ cutId: ctx.cutId, runId: ctx.runId, planHash: ctx.planHash, kind: 'leg_b' }) },
        { phase: 'verify', digest: hashOf({ expected: expectedPostImageHash, columns: cols }) },
        { phase: 'enact', digest: hashOf({ lifecycle: spec.lifecycle ?? null, keys: n.upserts.map((u) => project(u, spec.key)) }) },
      ];
      const after = await snapshot();
      return {
        phases,
        diff,
        expectedPostImageHash,
        nonMutation: { preImageHashBefore: preImageHash(pre), preImageHashAfter: preImageHash(after.pre) },
      };
    },

    async previewRevert(backup) {
      const pre = (JSON.parse(backup.plaintext) as { preImage: PreImageEntry[] }).preImage;
      return { restore: pre.filter((p) => p.row).length, remove: pre.filter((p) => !p.row).length };
    },

    close: () => db.dispose(),
  };
}
