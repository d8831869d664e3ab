/**
 * Reverts nothing else covers (issue #15), bin/cutter as a real process against real PostgreSQL:
 * the revert of a cut that FAILED (leg A refused by drift; leg B failing after leg A wrote) and of a
 * VERIFY-FAILED one (a trigger on the target rewrites rows on write: the rows as the cut left them
 * are no drift, a later change is), revert drift and `--force`
 * (an admin only), and a revert that fails part-way and is retried. Each asserts the rows byte for
 * byte (every row as to_jsonb), the events recorded, and a clean replay.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveCut } from '../../src/cuts/approve.js';
import { planCut } from '../../src/cuts/plan.js';
import { dryRun } from '../../src/runner/dry-run.js';
import { cutter } from '../support/cli.js';
import { readCut } from '../support/forge.js';
import { testWorkspace, type TestWorkspace } from '../support/workspace.js';
import { dataOf } from '../support/data.js';

let ws: TestWorkspace;
const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  cutter(args, { cwd: ws.dir, env: { ...ws.env, ...env } });

beforeAll(async () => {
  ws = await testWorkspace({ rows: 40 });
});
afterAll(async () => ws?.drop());

const key = (n: number) => `KB-${String(n).padStart(4, '0')}`;

/** Three revisions of seeded rows from `from`, one new row, one delete (`from + 3`): its own keys. */
function planOf(id: string, from: number, title = (n: number) => `${id} title ${n}`) {
  const changes: unknown[] = [from, from + 1, from + 2].map((n) => ({
    upsert: { id: key(n), title: title(n), body: `${id} body ${n} ✓` },
  }));
  changes.push({ upsert: { id: `NEW-${id}`, title: title(0), body: `${id} new` } }, { delete: { id: key(from + 3) } });
  return { id, target: 'kb', author: 'erin', reason: `coverage ${id}`, changes };
}

/** Plans (erin), approves (alice, bob) and dry-runs a cut: the set-up, not under test. */
async function ready(id: string, plan: unknown): Promise<void> {
  const file = ws.writePlan(id, plan);
  await ws.as('erin', (s) => planCut(s, file));
  await ws.as('alice', (s) => approveCut(s, id));
  await ws.as('bob', (s) => approveCut(s, id));
  await ws.as('erin', (s) => dryRun(s, id));
}

const types = async (id: string) => (await readCut(ws, id)).map((e) => e.type);
const stateOf = async (id: string) => (await run(['status', id, '--json'])).json.state as string;
const row = async (id: string) =>
  (await ws.target.query`SELECT to_jsonb(d) AS r FROM public.documents d WHERE id = ${id}`)[0]?.r;

/** `replay <cut>` through the CLI: exit 0 and no violation. */
async function expectCleanReplay(id: string): Promise<void> {
  const r = await run(['replay', id, '--json']);
  expect(r.json.violations, r.stdout).toEqual([]);
  expect(r.code).toBe(0);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the revert of a FAILED cut', () => {
  it('leg A refused by drift: the cut fails with nothing written; revert refuses the drift, --force (admin) restores the pre-image byte for byte', async () => {
    const before = await ws.target.snapshot();
    await ready('fa', planOf('fa', 1));
    // Leg A takes the target's advisory lock before its transaction (the backup does not): held
    // here, the runner stops between BackupTaken and leg A, while a planned row changes.
    const holder = new pg.Client({ connectionString: ws.target.db.url });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtextextended('cutter.target:public.documents', 0))`);
      const live = run(['run', 'fa', '--live', '--as', 'erin']);
      await until('BackupTaken', async () => (await types('fa')).includes('BackupTaken'));
      await ws.target.query`UPDATE public.documents SET title = 'edited elsewhere' WHERE id = ${key(2)}`;
      await holder.query(`SELECT pg_advisory_unlock(hashtextextended('cutter.target:public.documents', 0))`);
      const r = await live;
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(
        'drift: the planned rows of public.documents changed since the backup; nothing was written',
      );
    } finally {
      await holder.end();
    }
    expect(await types('fa')).toEqual([
      'CutPlanned',
      'ApprovalGranted',
      'ApprovalGranted',
      'DryRunStarted',
      ...Array(5).fill('PhaseSimulated'),
      'DryRunCompleted',
      'LiveRunStarted',
      'BackupTaken',
      'PhaseFailed',
    ]);
    expect((await readCut(ws, 'fa')).at(-1)?.data).toMatchObject({
      phase: 'legA',
      error: { code: 'GovernanceRefused' },
    });
    expect(await stateOf('fa')).toBe('failed');
    const drifted = await ws.target.snapshot();
    expect(drifted).toEqual(before.map((r: any) => (r.id === key(2) ? { ...r, title: 'edited elsewhere' } : r)));

    const refused = await run(['revert', 'fa', '--live', '--as', 'erin']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(
      'drift: the rows of public.documents changed since the cut; revert refused (use --force to restore anyway)',
    );
    expect(await ws.target.snapshot()).toEqual(drifted);

    const forced = await run(['revert', 'fa', '--live', '--force', '--as', 'dana', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.json).toMatchObject({ state: 'reverted' });
    expect(await ws.target.snapshot()).toEqual(before);
    expect((await types('fa')).slice(-4)).toEqual(['RevertStarted', 'RevertFailed', 'RevertStarted', 'CutReverted']);
    await expectCleanReplay('fa');
  });

  it('leg B failing after leg A wrote: the cut fails with rows as cut; a plain revert restores the pre-image byte for byte', async () => {
    const before = await ws.target.snapshot();
    await ready('fb', planOf('fb', 6));
    expect((await run(['target', 'prepare', 'kb'])).code).toBe(0);
    await ws.target
      .query`CREATE FUNCTION public.no_leg_b() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'leg B ledger closed by the DBA'; END $$`;
    await ws.target
      .query`CREATE TRIGGER no_leg_b BEFORE INSERT ON public.cutter_ledger FOR EACH ROW WHEN (NEW.kind = 'leg_b') EXECUTE FUNCTION public.no_leg_b()`;
    try {
      const r = await run(['run', 'fb', '--live', '--as', 'erin']);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('leg B ledger closed by the DBA');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await ws.target.query`DROP TRIGGER no_leg_b ON public.cutter_ledger`;
      await ws.target.query`DROP FUNCTION public.no_leg_b()`;
    }
    expect((await readCut(ws, 'fb')).at(-1)).toMatchObject({
      type: 'PhaseFailed',
      data: { phase: 'legB', error: { code: 'Internal' } },
    });
    expect(await stateOf('fb')).toBe('failed');
    expect(await row(key(6))).toMatchObject({ title: 'fb title 6', body: 'fb body 6 ✓' });
    expect(await row(key(9))).toBeUndefined();
    expect(await row('NEW-fb')).toMatchObject({ title: 'fb title 0', status: 'draft' });

    const reverted = await run(['revert', 'fb', '--live', '--as', 'erin', '--json']);
    expect(reverted.code, reverted.stderr).toBe(0);
    expect(reverted.json).toMatchObject({ state: 'reverted', restore: 4, remove: 1 });
    expect(await ws.target.snapshot()).toEqual(before);
    await expectCleanReplay('fb');
  });
});

describe('the revert of a VERIFY-FAILED cut', () => {
  it('a trigger rewrites the written rows, verify fails; a later change is drift, the rows as the cut left them revert byte for byte', async () => {
    const before = await ws.target.snapshot();
    await ready(
      'vf',
      planOf('vf', 11, (n) => `vf ${n}`),
    );
    await ws.target
      .query`CREATE FUNCTION public.rewrite() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.body := NEW.body || ' (rewritten)'; RETURN NEW; END $$`;
    await ws.target
      .query`CREATE TRIGGER rewrite BEFORE INSERT OR UPDATE ON public.documents FOR EACH ROW WHEN (NEW.title LIKE 'vf %') EXECUTE FUNCTION public.rewrite()`;
    try {
      const r = await run(['run', 'vf', '--live', '--as', 'erin']);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain('write verify failed for cut vf: 4 mismatching row(s)');
    } finally {
      await ws.target.query`DROP TRIGGER rewrite ON public.documents`;
      await ws.target.query`DROP FUNCTION public.rewrite()`;
    }
    const failed = (await readCut(ws, 'vf')).at(-1)!;
    expect(failed.type).toBe('VerifyFailed');
    expect(dataOf(failed).actualHash).not.toBe(dataOf(failed).expectedHash);
    expect(await stateOf('vf')).toBe('verifyFailed');
    const left = await row(key(12));
    expect(left).toMatchObject({ title: 'vf 12', body: expect.stringMatching(/^vf body 12 ✓ \(rewritten\)/) });

    // A row changed after the failed verify is drift: refused, nothing restored.
    await ws.target.query`UPDATE public.documents SET title = 'edited after the verify' WHERE id = ${key(12)}`;
    const drifted = await ws.target.snapshot();
    const refused = await run(['revert', 'vf', '--live', '--as', 'erin']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('drift: the rows of public.documents changed since the cut');
    expect(await ws.target.snapshot()).toEqual(drifted);

    // Put back as the cut left it, an operator's plain revert restores the pre-image.
    await ws.target.query`UPDATE public.documents SET title = ${left.title}, body = ${left.body} WHERE id = ${key(12)}`;
    const reverted = await run(['revert', 'vf', '--live', '--as', 'erin', '--json']);
    expect(reverted.code, reverted.stderr).toBe(0);
    expect(reverted.json).toMatchObject({ state: 'reverted', restore: 4, remove: 1 });
    expect(await ws.target.snapshot()).toEqual(before);
    expect((await readCut(ws, 'vf')).slice(-5)).toMatchObject([
      { type: 'VerifyFailed' },
      { type: 'RevertStarted', data: { force: false } },
      { type: 'RevertFailed', data: { error: { code: 'GovernanceRefused' } } },
      { type: 'RevertStarted', data: { force: false } },
      { type: 'CutReverted' },
    ]);
    await expectCleanReplay('vf');
  });
});

/** A cut run live to completion through the CLI. */
async function completed(id: string, from: number): Promise<void> {
  await ready(id, planOf(id, from));
  const r = await run(['run', id, '--live', '--as', 'erin']);
  expect(r.code, r.stderr).toBe(0);
}

describe('revert drift and --force', () => {
  it('a row changed after the cut: revert refuses (exit 3), --force by an operator is refused, --force by an admin restores', async () => {
    const before = await ws.target.snapshot();
    await completed('dr', 16);
    await ws.target.query`UPDATE public.documents SET body = 'changed after the cut' WHERE id = ${key(17)}`;
    const changed = await ws.target.snapshot();
    const recorded = (await types('dr')).length;

    const refused = await run(['revert', 'dr', '--live', '--as', 'erin']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(
      'cutter: refused: drift: the rows of public.documents changed since the cut; revert refused (use --force to restore anyway)',
    );
    expect(await ws.target.snapshot()).toEqual(changed);
    expect((await readCut(ws, 'dr')).slice(recorded)).toMatchObject([
      { type: 'RevertStarted', data: { force: false } },
      { type: 'RevertFailed', data: { error: { code: 'GovernanceRefused' } } },
    ]);

    const operator = await run(['revert', 'dr', '--live', '--force', '--as', 'erin']);
    expect(operator.code).toBe(3);
    expect(operator.stderr).toContain('a forced revert must be signed by an admin (erin is not one)');
    expect(await types('dr')).toHaveLength(recorded + 2);
    expect(await ws.target.snapshot()).toEqual(changed);

    const admin = await run(['revert', 'dr', '--live', '--force', '--as', 'dana', '--json']);
    expect(admin.code, admin.stderr).toBe(0);
    expect(admin.json).toMatchObject({ state: 'reverted', restore: 4, remove: 1 });
    expect((await readCut(ws, 'dr')).slice(recorded + 2)).toMatchObject([
      { type: 'RevertStarted', data: { force: true } },
      { type: 'CutReverted' },
    ]);
    expect(await ws.target.snapshot()).toEqual(before);
    const [ledger] = await ws.target
      .query`SELECT payload FROM public.cutter_ledger WHERE cut_id = 'dr' AND kind = 'revert'`;
    expect(ledger.payload).toMatchObject({ forced: true, rows: 5 });
    await expectCleanReplay('dr');
  });
});

describe('a retried revert', () => {
  it('fails part-way on a trigger (RevertFailed, nothing restored), then the same command succeeds (CutReverted)', async () => {
    const before = await ws.target.snapshot();
    await completed('rt', 21);
    const cut = await ws.target.snapshot();
    const recorded = (await types('rt')).length;
    // The restore deletes the inserted row first, then updates the revised ones: the trigger fails
    // it on the last of those, after earlier statements of the same transaction ran.
    await ws.target
      .query`CREATE FUNCTION public.frozen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'row % is frozen by the DBA', OLD.id; END $$`;
    await ws.target
      .query`CREATE TRIGGER frozen BEFORE UPDATE OR DELETE ON public.documents FOR EACH ROW WHEN (OLD.id = 'KB-0023') EXECUTE FUNCTION public.frozen()`;
    try {
      const failed = await run(['revert', 'rt', '--live', '--as', 'erin']);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain('row KB-0023 is frozen by the DBA');
      expect(failed.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await ws.target.query`DROP TRIGGER frozen ON public.documents`;
      await ws.target.query`DROP FUNCTION public.frozen()`;
    }
    expect(await stateOf('rt')).toBe('revertFailed');
    expect(await ws.target.snapshot()).toEqual(cut);
    expect(
      (
        await ws.target
          .query`SELECT count(*)::int AS n FROM public.cutter_ledger WHERE cut_id = 'rt' AND kind = 'revert'`
      )[0].n,
    ).toBe(0);

    const retried = await run(['revert', 'rt', '--live', '--as', 'erin', '--json']);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.json).toMatchObject({ state: 'reverted', restore: 4, remove: 1 });
    const events = (await readCut(ws, 'rt')).slice(recorded);
    expect(events.map((e) => e.type)).toEqual(['RevertStarted', 'RevertFailed', 'RevertStarted', 'CutReverted']);
    expect(dataOf(events[1]!).error).toMatchObject({
      code: 'Internal',
      message: expect.stringContaining('row KB-0023 is frozen by the DBA'),
    });
    expect(dataOf(events[2]!).runId).not.toBe(dataOf(events[0]!).runId);
    expect(await ws.target.snapshot()).toEqual(before);
    await expectCleanReplay('rt');
  });
});
