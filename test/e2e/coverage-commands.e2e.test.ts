/**
 * Commands and refusals nothing else covers (issue #15), bin/cutter as a real process against real
 * PostgreSQL: `target prepare`, `watch` and `projections follow` (long-running: started, fed by a
 * cut driven from another process, read, then stopped with SIGINT/SIGTERM), `report --out`,
 * approvals expiring on the real clock, and a forged change-set chunk refused before a live run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { approveCut } from '../../src/cuts/approve.js';
import { changeSetBlobId } from '../../src/cuts/changes.js';
import { planCut } from '../../src/cuts/plan.js';
import { dryRun } from '../../src/runner/dry-run.js';
import { sql } from '../../src/store/connection.js';
import { cutter, startCutter, type RunningCli } from '../support/cli.js';
import { readCut, withStoreDb } from '../support/forge.js';
import { testWorkspace, type TestWorkspace } from '../support/workspace.js';
import { dataOf } from '../support/data.js';

let ws: TestWorkspace;
const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  cutter(args, { cwd: ws.dir, env: { ...ws.env, ...env } });
const start = (args: string[]) => startCutter(args, { cwd: ws.dir, env: ws.env });
const started: RunningCli[] = [];

beforeAll(async () => {
  ws = await testWorkspace({ rows: 40 });
});
afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await ws?.drop();
});

const key = (n: number) => `KB-${String(n).padStart(4, '0')}`;

/** Three revisions of seeded rows from `from`, one new row, one delete (`from + 3`): its own keys. */
function planOf(id: string, from: number) {
  const changes: unknown[] = [from, from + 1, from + 2].map((n) => ({
    upsert: { id: key(n), title: `${id} title ${n}`, body: `${id} body ${n}` },
  }));
  changes.push(
    { upsert: { id: `NEW-${id}`, title: `${id} new`, body: `${id} new` } },
    { delete: { id: key(from + 3) } },
  );
  return { id, target: 'kb', author: 'erin', reason: `coverage ${id}`, changes };
}

/** Plans (erin), approves (alice, bob) and dry-runs a cut: the set-up, not under test. */
async function ready(id: string, file: string, opts: { approve?: boolean } = {}): Promise<void> {
  await ws.as('erin', (s) => planCut(s, file));
  if (opts.approve !== false) {
    await ws.as('alice', (s) => approveCut(s, id));
    await ws.as('bob', (s) => approveCut(s, id));
  }
  await ws.as('erin', (s) => dryRun(s, id));
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Live subscribers registered in the store (each watch and follower registers one, after it read the log's tail; unregisters on stop). */
const listeners = () =>
  withStoreDb(
    ws,
    async (db) =>
      (
        await db.query(
          sql`SELECT count(*)::int AS n FROM cutter.subscribers s JOIN pg_stat_activity a ON a.pid = s.backend_pid`,
        )
      )[0].n as number,
  );
const activity = async () =>
  (await run(['status', '--json'])).json.targets.find((t: { target: string }) => t.target === 'kb');
const tableExists = async (name: string) =>
  (await ws.target.query`SELECT to_regclass(${name}) IS NOT NULL AS ok`)[0].ok as boolean;

describe('cutter target prepare', () => {
  it('creates the ledger and receipt tables beside the target, and is idempotent', async () => {
    expect(await tableExists('public.cutter_ledger')).toBe(false);
    expect(await tableExists('public.cutter_receipts')).toBe(false);
    const r = await run(['target', 'prepare', 'kb', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toEqual({ target: 'kb', table: 'public.documents', prepared: true });
    expect(await tableExists('public.cutter_ledger')).toBe(true);
    expect(await tableExists('public.cutter_receipts')).toBe(true);
    await ws.target
      .query`INSERT INTO public.cutter_ledger (cut_id, run_id, kind, plan_hash, payload) VALUES ('x', 'x', 'probe', 'x', '{}')`;
    const again = await run(['target', 'prepare', 'kb']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('kb: cutter_ledger and cutter_receipts ready beside public.documents');
    expect((await ws.target.query`SELECT count(*)::int AS n FROM public.cutter_ledger WHERE kind = 'probe'`)[0].n).toBe(
      1,
    );
    await ws.target.query`DELETE FROM public.cutter_ledger WHERE kind = 'probe'`;
  });
});

describe('cutter watch and cutter projections follow', () => {
  it('follow a live cut driven from another process, and stop cleanly on SIGINT / SIGTERM', async () => {
    await ready('w1', ws.writePlan('w1', planOf('w1', 1)));
    const follower = start(['projections', 'follow']);
    const watchCut = start(['watch', 'w1', '--json', '--timeout', '120']);
    const watchAll = start(['watch', '--timeout', '120']);
    started.push(follower, watchCut, watchAll);
    await until('three subscribers', async () => (await listeners()) === 3);
    await follower.waitFor(/following the log for target_activity/);
    // The follower caught up on what was there: one cut planned on kb, no live run yet.
    await until('the follower to catch up', async () => (await activity())?.cuts === 1);
    expect(await activity()).toMatchObject({ cuts: 1, liveRuns: 0, rowsWritten: 0 });

    const live = await run(['run', 'w1', '--live', '--as', 'erin']);
    expect(live.code, live.stderr).toBe(0);

    // watch <cut> stops by itself once the cut settles, exit 0, one JSON line per event.
    expect(await watchCut.exited).toEqual({ code: 0, signal: null });
    const lines = watchCut
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual([
      'LiveRunStarted',
      'BackupTaken',
      'LegAWritten',
      'LegBRecorded',
      'WriteVerified',
      'LifecycleEnacted',
    ]);
    expect(new Set(lines.map((l) => `${l.streamId} ${l.actor} ${l.runId}`))).toEqual(
      new Set([`cut-w1 erin ${lines[0].runId}`]),
    );
    expect(lines.map((l) => l.version)).toEqual([11, 12, 13, 14, 15, 16]);

    // The follower applied the run: the async projection moved without anyone rebuilding it.
    // Until it has applied the run's last event: liveRuns is 1 from the run's first event on, so
    // waiting for that alone raced the follower's next page (seen once: lastEvent WriteVerified).
    await until('the follower to apply the run', async () => (await activity())?.lastEvent === 'LifecycleEnacted');
    expect(await activity()).toMatchObject({
      cuts: 1,
      liveRuns: 1,
      rowsWritten: 5,
      reverts: 0,
      lastEvent: 'LifecycleEnacted',
    });

    // watch (every stream) runs until stopped.
    await watchAll.waitFor(/cut-w1 #16 {2}LifecycleEnacted/);
    expect(watchAll.stdout()).toMatch(/cut-w1 #11 {2}LiveRunStarted {2}\(erin\)/);
    expect(watchAll.child.exitCode).toBeNull();
    watchAll.child.kill('SIGINT');
    expect(await watchAll.exited).toEqual({ code: 0, signal: null });
    expect(watchAll.stderr()).toMatch(/stopped\n$/);
    expect(watchAll.stderr()).not.toMatch(/\n\s+at /);

    follower.child.kill('SIGTERM');
    expect(await follower.exited).toEqual({ code: 0, signal: null });
    expect(follower.stderr()).not.toMatch(/\n\s+at /);
    expect(await listeners()).toBe(0);

    // Stopped, it applies nothing: a new cut waits for the next follower (`--once` catches up).
    await ready('w2', ws.writePlan('w2', planOf('w2', 6)), { approve: false });
    expect((await activity()).cuts).toBe(1);
    const once = await run(['projections', 'follow', '--once', '--json']);
    expect(once.code, once.stderr).toBe(0);
    expect(once.json.applied).toBeGreaterThan(0);
    expect((await activity()).cuts).toBe(2);

    // SIGINT stops the follower as cleanly as SIGTERM.
    const second = start(['projections', 'follow']);
    started.push(second);
    await until('the second follower to subscribe', async () => (await listeners()) === 1);
    // Woken 15 times (each wake is one wait of the follow loop), it must not pile up abort listeners.
    for (let i = 0; i < 15; i++) {
      await withStoreDb(ws, (db) => db.query(sql`SELECT pg_notify('cutter_events', 'probe')`));
      await new Promise((r) => setTimeout(r, 50));
    }
    second.child.kill('SIGINT');
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(second.stderr()).toBe('following the log for target_activity (ctrl-c to stop)\n');
  });
});

describe('cutter report --out', () => {
  it('writes the report in each format to the file (creating its directory), not to stdout', async () => {
    const dir = path.join(ws.dir, 'reports', 'nested');
    const html = path.join(dir, 'w1.html');
    const r = await run(['report', 'w1', '--format', 'html', '--out', html]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`✓ report written to ${html} (COMPLETED — live cut applied, verified and enacted)`);
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/^<!doctype html>/i);
    expect(page).toContain('w1');

    const md = path.join(dir, 'w1.md');
    expect((await run(['report', 'w1', '--out', md])).code).toBe(0);
    expect(readFileSync(md, 'utf8')).toMatch(/^# Cut w1 — audit report/);

    const json = path.join(dir, 'w1.json');
    const j = await run(['report', 'w1', '--format', 'json', '--out', json, '--json']);
    expect(j.code, j.stderr).toBe(0);
    expect(j.json).toEqual({
      cutId: 'w1',
      format: 'json',
      out: json,
      outcome: 'COMPLETED — live cut applied, verified and enacted',
      violations: 0,
    });
    const model = JSON.parse(readFileSync(json, 'utf8'));
    expect(model.cut).toMatchObject({ cutId: 'w1', state: 'completed', author: 'erin' });
    const stdout = JSON.parse((await run(['report', 'w1', '--format', 'json'])).stdout);
    expect({ ...model, cut: { ...model.cut, generatedAt: null } }).toEqual({
      ...stdout,
      cut: { ...stdout.cut, generatedAt: null },
    });
  });
});

describe('approvals expiring on the real clock', () => {
  it('refuses the live run once the approvals are older than the policy TTL (exit 3), writing nothing', async () => {
    const TTL = 4;
    const g = parse(readFileSync(ws.governanceFile, 'utf8'));
    const short = path.join(ws.dir, 'short-ttl.yaml');
    writeFileSync(short, stringify({ ...g, policy: { ...g.policy, approvalTtl: `${TTL}s` } }));
    const applied = await run(['governance', 'apply', short, '--as', 'dana', '--json']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.json).toMatchObject({ applied: 'effective', version: 2 });

    await ready('ttl', ws.writePlan('ttl', planOf('ttl', 11)));
    const approvals = (await readCut(ws, 'ttl')).filter((e) => e.type === 'ApprovalGranted');
    expect(approvals.map((a) => dataOf(a).approver)).toEqual(['alice', 'bob']);
    const newest = Math.max(...approvals.map((a) => Date.parse(dataOf(a).at)));
    const wait = newest + (TTL + 1) * 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));

    const before = await ws.target.snapshot();
    const recorded = (await readCut(ws, 'ttl')).length;
    const r = await run(['run', 'ttl', '--live', '--as', 'erin']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('live run of cut ttl refused');
    expect(r.stderr).toContain(`approval by alice: expired (older than ${TTL}s)`);
    expect(r.stderr).toContain(`approval by bob: expired (older than ${TTL}s)`);
    expect(r.stderr).toContain('approvals: 0 of 2 required');
    expect(await ws.target.snapshot()).toEqual(before);
    expect(await readCut(ws, 'ttl')).toHaveLength(recorded);
    expect((await ws.target.query`SELECT count(*)::int AS n FROM public.cutter_ledger WHERE cut_id = 'ttl'`)[0].n).toBe(
      0,
    );

    const restored = await run(['governance', 'apply', ws.governanceFile, '--as', 'dana', '--json']);
    expect(restored.json).toMatchObject({ applied: 'effective', version: 3 });
  });
});

describe('a forged change-set chunk', () => {
  it('refuses the live run before any target row is written (exit 4), naming the blob', async () => {
    const lines = Array.from({ length: 30 }, (_, k) =>
      JSON.stringify({ upsert: { id: key(k + 1), title: `chunk ${k + 1}`, body: `chunk body ${k + 1}` } }),
    );
    writeFileSync(path.join(ws.dir, 'chunk.ndjson'), `${lines.join('\n')}\n`);
    const file = path.join(ws.dir, 'chunk.yaml');
    writeFileSync(file, 'id: chunk\ntarget: kb\nreason: from a change file\nchangesFile: chunk.ndjson\n');
    await ready('chunk', file);
    const planned = (await readCut(ws, 'chunk'))[0]!;
    const blobId = changeSetBlobId(dataOf(planned).plan.changeSet.sha256);
    const before = await ws.target.snapshot();
    const recorded = (await readCut(ws, 'chunk')).length;

    // The store's owner edits a stored chunk (the immutability trigger disabled around it).
    await withStoreDb(ws, (db) =>
      db.tx(async (tx) => {
        await tx.query(sql`ALTER TABLE cutter.blob_chunks DISABLE TRIGGER blob_chunks_immutable`);
        const [edited] = await tx.query(
          sql`UPDATE cutter.blob_chunks SET data = replace(encode(data, 'escape'), 'chunk 7"', 'chunk X"')::bytea WHERE blob_id = ${blobId} AND seq = 0 RETURNING seq`,
        );
        expect(edited).toEqual({ seq: 0 });
        await tx.query(sql`ALTER TABLE cutter.blob_chunks ENABLE TRIGGER blob_chunks_immutable`);
      }),
    );

    const r = await run(['run', 'chunk', '--live', '--as', 'erin']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(
      `cutter: verification failed: cut chunk: the change set does not match the plan (sha256 ${dataOf(planned).plan.changeSet.sha256.slice(0, 12)}…, 30 changes); nothing was run`,
    );
    expect(r.stderr).toContain(`blob ${blobId}: content hashes to`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await ws.target.snapshot()).toEqual(before);
    expect(await readCut(ws, 'chunk')).toHaveLength(recorded);
    expect(
      (await ws.target.query`SELECT count(*)::int AS n FROM public.cutter_ledger WHERE cut_id = 'chunk'`)[0].n,
    ).toBe(0);
  });
});
