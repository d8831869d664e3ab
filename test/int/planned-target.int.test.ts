/**
 * Attack (an operator who controls the config file): approvals name the plan, and the plan names
 * its target only by name; what the name means (table, key, columns, what enact sets) comes from the
 * config when the cut runs. Edited after approval, it would send the approved rows to another table,
 * or have enact set any column of the approved keys to any value, with every event properly signed.
 * CutPlanned records the target's definition; the dry run, the live run and the revert refuse a
 * configured target that differs from it (exit 3 through the CLI), before any target row changes.
 * Found by an insider review (fifth session).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { planCut } from '../../src/cuts/plan.js';
import { dryRun } from '../../src/runner/dry-run.js';
import { runLive } from '../../src/runner/live.js';
import { revertCut } from '../../src/runner/revert.js';
import { replayStore } from '../../src/audit/replay.js';
import { bigPlan, readyCut, testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
afterEach(async () => ws?.drop());

/** Edits targets.kb in the config file; returns a function that puts the honest text back. */
function editTarget(edit: (kb: Record<string, unknown>) => void): () => void {
  const file = path.join(ws.dir, 'cutter.config.yaml');
  const honest = readFileSync(file, 'utf8');
  const cfg = parse(honest);
  edit(cfg.targets.kb);
  writeFileSync(file, stringify(cfg));
  return () => writeFileSync(file, honest);
}

/** Every row of both tables of the target database. */
const bothTables = async () => ({
  documents: await ws.target.snapshot(),
  documents2: (await ws.target.query`SELECT to_jsonb(d)::text AS r FROM public.documents2 d ORDER BY id`).map(
    (x) => x.r,
  ),
});

const HOSTILE: [string, (kb: Record<string, unknown>) => void, RegExp][] = [
  ['another table', (kb) => (kb.table = 'public.documents2'), /table is public\.documents2 in the config/],
  [
    'another lifecycle column',
    (kb) => (kb.lifecycle = { column: 'revision', value: '999' }),
    /lifecycle is revision = "999"/,
  ],
  [
    'another lifecycle value',
    (kb) => (kb.lifecycle = { column: 'status', value: 'retired' }),
    /lifecycle is status = "retired"/,
  ],
  ['no lifecycle', (kb) => delete kb.lifecycle, /lifecycle is \(none\) in the config/],
  ['other columns', (kb) => (kb.columns = ['title']), /columns are title in the config/],
  ['another key', (kb) => (kb.key = ['id', 'revision']), /key is id, revision in the config/],
];

describe('a cut runs only against the target it was planned and approved for', () => {
  it('refuses every edit of the target after approval, live and dry, before any row changes; runs once it is put back', async () => {
    ws = await testWorkspace({ rows: 10 });
    await readyCut(ws, 'c1');
    const before = await bothTables();
    const version = await ws.as('erin', async (s) => (await s.store()).streamVersion('cut-c1'));

    for (const [what, edit, reason] of HOSTILE) {
      const restore = editTarget(edit);
      try {
        for (const [step, run] of [
          ['live run', () => ws.as('erin', (s) => runLive(s, 'c1'))],
          ['dry run', () => ws.as('erin', (s) => dryRun(s, 'c1'))],
        ] as const) {
          const err = await run().then(
            () => undefined,
            (e: unknown) => e as { code?: string; reasons?: string[]; message?: string },
          );
          expect(err?.code, `${what}: ${step}`).toBe('GovernanceRefused');
          expect(err?.message, `${what}: ${step}`).toMatch(/not the target the cut was planned and approved for/);
          expect(err?.reasons?.join('\n'), `${what}: ${step}`).toMatch(reason);
        }
      } finally {
        restore();
      }
      expect(await bothTables(), what).toEqual(before);
      expect(await ws.as('erin', async (s) => (await s.store()).streamVersion('cut-c1')), what).toBe(version);
    }

    const done = await ws.as('erin', (s) => runLive(s, 'c1'));
    expect(done.state).toBe('completed');
    expect((await bothTables()).documents).not.toEqual(before.documents);

    // The revert is held to the same target.
    const restore = editTarget((kb) => (kb.lifecycle = { column: 'revision', value: '1' }));
    const refused = await ws
      .as('erin', (s) => revertCut(s, 'c1', { mode: 'live', force: false }))
      .catch((e: unknown) => e);
    restore();
    expect((refused as { code?: string }).code).toBe('GovernanceRefused');

    const replay = await ws.as('auditor', async (s) => replayStore(await s.store(), undefined, { trustRoot: ws.root }));
    expect(replay.violations).toEqual([]);
  });

  it('records the definition on the planned event, without the URL', async () => {
    ws = await testWorkspace({ rows: 4 });
    const file = ws.writePlan('c2', bigPlan('c2', 2, 4));
    await ws.as('erin', (s) => planCut(s, file));
    const [planned] = await ws.as('erin', async (s) => (await s.store()).readStream('cut-c2'));
    expect(planned!.data).toMatchObject({
      table: 'public.documents',
      definition: { key: ['id'], columns: ['title', 'body'], lifecycle: { column: 'status', value: 'published' } },
    });
    expect(JSON.stringify(planned)).not.toMatch(/postgres(ql)?:\/\//);
  });
});
