/** The postgres-table adapter and the simulator against a real seeded table. */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { CutPlan } from '../../events/plan.js';
import { planHash } from '../../events/plan.js';
import { backupEntries } from '../../src/adapters/backup-format.js';
import { executorFor } from '../../src/adapters/index.js';
import { inlineChanges } from '../../src/config/changes.js';
import { lines } from '../../src/store/blobs.js';
import { CATEGORIES, FUZZ_CONFIG, hostileString, serialize, type Category } from '../support/plan-fuzz.js';
import { parsePlan } from '../../src/config/plan.js';
import { seededTarget, type SeededTarget } from '../support/target.js';

const plan: CutPlan = {
  id: 'cut-1',
  target: 'kb',
  author: 'erin',
  reason: 'test',
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
    const rows =
      await target.query`SELECT id, title, body, status FROM public.documents WHERE id IN ('KB-9001','KB-0002','KB-0004') ORDER BY id`;
    expect(rows).toEqual([
      { id: 'KB-0002', title: 'revised', body: 'b2', status: 'published' },
      { id: 'KB-9001', title: 'new', body: "it's '; DROP TABLE documents; -- ✓", status: 'published' },
    ]);
    expect((await target.query`SELECT kind FROM public.cutter_ledger ORDER BY id`).map((r) => r.kind)).toEqual([
      'leg_b',
      'verify',
    ]);
    expect(
      (await target.query`SELECT phase FROM public.cutter_receipts ORDER BY at, phase`).map((r) => r.phase).sort(),
    ).toEqual(['enact', 'legA', 'legB', 'verify']);
    const reverted = await live.revert(
      ctx('r2'),
      { entries: () => backupEntries(lines([plaintext])), preImageHash: backup.preImageHash },
      { force: false },
    );
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
    expect(result.diff.updates).toEqual([
      {
        key: { id: 'KB-0002' },
        changes: [
          { column: 'title', from: 'title 2', to: 'revised' },
          { column: 'body', from: 'body 2', to: 'b2' },
        ],
      },
    ]);
    expect(result.diff.counts).toEqual({ inserts: 1, updates: 1, deletes: 1, unchanged: 1 });
    expect(result.diff.deletes).toEqual([{ id: 'KB-0004' }]);
    expect(result.nonMutation.preImageHashBefore).toBe(result.nonMutation.preImageHashAfter);
    expect(result.phases.map((p) => p.phase)).toEqual(['backup', 'legA', 'legB', 'verify', 'enact']);
    expect(await target.snapshot()).toEqual(before);
    await sim.close();
  });
});

describe('postgres-table adapter with hostile values', () => {
  it('writes every value of a plan of hostile strings exactly as data, byte for byte, and reverts them', async () => {
    // 60 rows of generated hostile strings (seeded), plus revisions of two seeded rows and a delete;
    // the plan goes through YAML and the plan loader, as an operator's would.
    const generated = fc.sample(
      fc.uniqueArray(
        fc.record({ id: hostileString.filter((s) => s.length > 0), title: hostileString, body: hostileString }),
        { minLength: 60, maxLength: 60, selector: (r) => r.id },
      ),
      { numRuns: 1, seed: 20261201 },
    )[0]!;
    const rows = [
      ...generated.filter((r) => !/^KB-/.test(r.id)),
      { id: 'KB-0002', title: "'; DROP TABLE documents; --", body: 'x'.repeat(5000) },
      { id: 'KB-0003', title: '\u202eevil\u202c 🏳️‍🌈 "q" \\ \'s\'', body: 'null' },
    ];
    const changes = [...rows.map((upsert) => ({ upsert })), { delete: { id: 'KB-0004' } }];
    const text = serialize({ id: 'hostile-1', target: 'kb', reason: "'; DROP TABLE x; --", changes }, 'yaml');
    const plan = parsePlan(text, FUZZ_CONFIG, { actor: 'erin' });
    expect(plan.changes).toEqual(changes);
    const strings = rows.flatMap((r) => [r.id, r.title, r.body]);
    const reached = (Object.keys(CATEGORIES) as Category[]).filter((c) => strings.some(CATEGORIES[c]));
    expect(reached.sort()).toEqual((Object.keys(CATEGORIES) as Category[]).sort());

    target = await seededTarget(10);
    const before = await target.snapshot();
    const live = executorFor('live', target.spec, inlineChanges(plan.changes!));
    await live.prepare();
    let plaintext = '';
    const c = { cutId: plan.id, runId: 'r1', planHash: planHash(plan) };
    const backup = await live.backup(c, { sink: async (t) => void (plaintext += t) });
    const legA = await live.writeLegA(c, { preImageHash: backup.preImageHash });
    expect(legA).toMatchObject({ inserted: rows.length - 2, updated: 2, deleted: 1 });
    await live.recordLegB(c, { approvals: ['alice', 'bob'] });
    expect(await live.verify(c)).toMatchObject({ ok: true, mismatches: [] });

    // Read back: the text, and PostgreSQL's own account of its bytes (length and SHA-256 of the
    // UTF-8 encoding, computed in the database, independent of how the driver decodes).
    const got = await target.query`SELECT id, title, body,
        octet_length(title) AS tl, octet_length(body) AS bl,
        encode(sha256(convert_to(id, 'UTF8')), 'hex') AS ih, encode(sha256(convert_to(title, 'UTF8')), 'hex') AS th, encode(sha256(convert_to(body, 'UTF8')), 'hex') AS bh
      FROM public.documents`;
    const byId = new Map(got.map((r) => [r.id as string, r]));
    const sha = (s: string) => createHash('sha256').update(Buffer.from(s, 'utf8')).digest('hex');
    for (const r of rows) {
      const row = byId.get(r.id);
      expect(row, JSON.stringify(r.id)).toBeDefined();
      expect({ id: row.id, title: row.title, body: row.body }).toEqual(r);
      expect([row.ih, row.th, row.bh, row.tl, row.bl]).toEqual([
        sha(r.id),
        sha(r.title),
        sha(r.body),
        Buffer.byteLength(r.title),
        Buffer.byteLength(r.body),
      ]);
    }
    expect(byId.has('KB-0004')).toBe(false);
    expect(got).toHaveLength(10 + rows.length - 2 - 1);
    // Nothing was executed as SQL: the ledger and receipts are there, and only the planned rows changed.
    expect((await target.query`SELECT kind FROM public.cutter_ledger`).map((r) => r.kind)).toEqual(['leg_b', 'verify']);

    const reverted = await live.revert(
      { ...c, runId: 'r2' },
      { entries: () => backupEntries(lines([plaintext])), preImageHash: backup.preImageHash },
      { force: false },
    );
    expect(reverted.restoredHash).toBe(backup.preImageHash);
    expect(await target.snapshot()).toEqual(before);
    await live.close();
  });
});
