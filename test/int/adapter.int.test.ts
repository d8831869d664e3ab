/** The postgres-table adapter and the simulator against a real seeded table. */
import { afterEach, describe, expect, it } from 'vitest';
import type { CutPlan } from '../../events/plan.js';
import { planHash } from '../../events/plan.js';
import { backupEntries } from '../../src/adapters/backup-format.js';
import { executorFor } from '../../src/adapters/index.js';
import { inlineChanges } from '../../src/cuts/changes.js';
import { lines } from '../../src/store/blobs.js';
import { seededTarget, type SeededTarget } from '../support/target.js';

const plan: CutPlan = {
  id: 'cut-1', target: 'kb', author: 'erin', reason: 'test',
  changes: [
    { upsert: { id: 'KB-9001', title: 'new', body: "it's '; DROP TABLE documents; -- ✓" } },
    { upsert: { id: 'KB-0002', title: 'revised', body: 'b2' } },
    { upsert: { id: 'KB-0003', title: 'title 3', body: 'body 3' } },
    { delete: { id: 'KB-0004' } },
  ],
};
const ctx = (runId: string) => ({ cutId: plan.id, runId, planHash: planHash(plan) });

let target: SeededTarget;
afterEach(async () => target?.db.drop());

describe('postgres-table adapter', () => {
  it('runs all five phases, then reverts byte for byte', async () => {
    target = await seededTarget(10);
    const before = await target.snapshot();
    const live = executorFor('live', target.spec, inlineChanges(plan.changes!));
    await live.prepare();
    let plaintext = '';
    const backup = await live.backup(ctx('r1'), { sink: async (t) => void (plaintext += t) });
    expect(backup.rowCount).toBe(3);
    expect(plaintext.split('\n')[1]).toBe('{"id": "KB-9001"}\tnull');
    const legA = await live.writeLegA(ctx('r1'), { preImageHash: backup.preImageHash });
    expect(legA).toMatchObject({ inserted: 1, updated: 2, deleted: 1, reconciled: false });
    const again = await live.writeLegA(ctx('r1'), { preImageHash: backup.preImageHash });
    expect(again).toMatchObject({ inserted: 1, updated: 2, deleted: 1, reconciled: true, receipt: legA.receipt });
    await live.recordLegB(ctx('r1'), { approvals: ['alice', 'bob'] });
    const verify = await live.verify(ctx('r1'));
    expect(verify).toMatchObject({ ok: true, mismatches: [] });
    expect(verify.expectedHash).toBe(legA.digest);
    expect(await live.enactLifecycle(ctx('r1'))).toMatchObject({ skipped: false, rows: 3 });
    const rows = await target.query`SELECT id, title, body, status FROM public.documents WHERE id IN ('KB-9001','KB-0002','KB-0004') ORDER BY id`;
    expect(rows).toEqual([
      { id: 'KB-0002', title: 'revised', body: 'b2', status: 'published' },
      { id: 'KB-9001', title: 'new', body: "it's '; DROP TABLE documents; -- ✓", status: 'published' },
    ]);
    expect((await target.query`SELECT kind FROM public.cutter_ledger ORDER BY id`).map((r) => r.kind)).toEqual(['leg_b', 'verify']);
    expect((await target.query`SELECT phase FROM public.cutter_receipts ORDER BY at, phase`).map((r) => r.phase).sort()).toEqual(['enact', 'legA', 'legB', 'verify']);
    const reverted = await live.revert(ctx('r2'), { entries: () => backupEntries(lines([plaintext])), preImageHash: backup.preImageHash }, { force: false });
    expect(reverted.restoredHash).toBe(backup.preImageHash);
    expect(await target.snapshot()).toEqual(before);
    await live.close();
  });

  it('refuses leg A when a planned row drifted after the backup, writing nothing', async () => {
    target = await seededTarget(10);
    const live = executorFor('live', target.spec, inlineChanges(plan.changes!));
    await live.prepare();
    const backup = await live.backup(ctx('r1'));
    await target.query`UPDATE public.documents SET title = 'edited elsewhere' WHERE id = 'KB-0002'`;
    const before = await target.snapshot();
    await expect(live.writeLegA(ctx('r1'), { preImageHash: backup.preImageHash })).rejects.toThrow(/drift/);
    expect(await target.snapshot()).toEqual(before);
    expect(await live.receipt('r1', 'legA')).toBeNull();
    await live.close();
  });
});

describe('simulator', () => {
  it('computes the diff inside READ ONLY transactions and proves nothing changed', async () => {
    target = await seededTarget(10);
    const before = await target.snapshot();
    const sim = executorFor('dry-run', target.spec, inlineChanges(plan.changes!));
    const result = await sim.simulate(ctx('d1'));
    expect(result.diff.inserts.map((r) => r.id)).toEqual(['KB-9001']);
    expect(result.diff.updates).toEqual([{ key: { id: 'KB-0002' }, changes: [{ column: 'title', from: 'title 2', to: 'revised' }, { column: 'body', from: 'body 2', to: 'b2' }] }]);
    expect(result.diff.counts).toEqual({ inserts: 1, updates: 1, deletes: 1, unchanged: 1 });
    expect(result.diff.deletes).toEqual([{ id: 'KB-0004' }]);
    expect(result.nonMutation.preImageHashBefore).toBe(result.nonMutation.preImageHashAfter);
    expect(result.phases.map((p) => p.phase)).toEqual(['backup', 'legA', 'legB', 'verify', 'enact']);
    expect(await target.snapshot()).toEqual(before);
    await sim.close();
  });
});
