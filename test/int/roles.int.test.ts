/**
 * Least privilege: the roles of docs/roles.sql, created from that very file, run a full cut — plan,
 * approvals, dry run, live run, revert, replay — and the store writer cannot UPDATE, DELETE or
 * TRUNCATE events.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayStore } from '../../src/audit/replay.js';
import { approveCut } from '../../src/cuts/approve.js';
import { planCut } from '../../src/cuts/plan.js';
import { dryRun } from '../../src/runner/dry-run.js';
import { runLive } from '../../src/runner/live.js';
import { revertCut } from '../../src/runner/revert.js';
import { inlineChanges } from '../../src/cuts/changes.js';
import { executorFor } from '../../src/adapters/index.js';
import { connect, sql } from '../../src/store/connection.js';
import { openStore } from '../../src/store/index.js';
import { adminUrl } from '../support/db.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';

const suffix = randomBytes(3).toString('hex');
const roles = { owner: `cutter_store_owner_${suffix}`, writer: `cutter_store_writer_${suffix}`, target: `cutter_target_${suffix}` };
let ws: TestWorkspace;

/** The statements of one `-- @part` of docs/roles.sql, with this test's role and database names. */
function part(name: 'roles' | 'store' | 'target', dbName = ''): string[] {
  const text = readFileSync(path.resolve(import.meta.dirname, '../../docs/roles.sql'), 'utf8')
    .replaceAll('cutter_store_owner', roles.owner).replaceAll('cutter_store_writer', roles.writer).replaceAll('cutter_target', roles.target)
    .replaceAll('DATABASE cutter_store', `DATABASE ${dbName}`).replaceAll("'change-me'", "'pw'");
  const section = text.split(/^-- @part /m).find((p) => p.startsWith(name))!;
  return section.split('\n').filter((l) => !l.startsWith('--') && !l.startsWith(name)).join('\n').split(';').map((x) => x.trim()).filter(Boolean);
}

async function exec(url: string, statements: string[]): Promise<void> {
  const db = connect(url, { poolSize: 1 });
  try {
    for (const s of statements) await db.query(sql.__dangerous__rawValue(s));
  } finally {
    await db.dispose();
  }
}

const as = (url: string, role: string) => Object.assign(new URL(url), { username: role, password: 'pw' }).toString();

afterAll(async () => {
  await ws?.drop();
  const admin = connect(adminUrl(), { poolSize: 1 });
  for (const r of Object.values(roles)) await admin.query(sql`DROP ROLE IF EXISTS ${sql.ident(r)}`).catch(() => undefined);
  await admin.dispose();
});

describe('least privilege', () => {
  it('runs a full cut under the documented roles, and the writer cannot edit events', async () => {
    ws = await testWorkspace({ rows: 10, governance: false });
    const storeName = new URL(ws.store.url).pathname.slice(1);
    await exec(ws.store.url, part('roles', storeName));
    await (await openStore(as(ws.store.url, roles.owner))).close(); // the owner migrates
    await exec(as(ws.store.url, roles.owner), part('store'));
    const prep = executorFor('live', ws.target.spec, inlineChanges([]));
    await prep.prepare();
    await prep.close();
    await exec(ws.target.db.url, part('target'));
    ws.env.CUTTER_STORE_URL = as(ws.store.url, roles.writer);
    ws.env.KB_URL = as(ws.target.db.url, roles.target);
    await ws.recordGovernance(); // genesis appended by the writer role

    const file = ws.writePlan('c1', bigPlan('c1', 4, 10));
    const run = async <T>(actor: string, fn: (s: ReturnType<TestWorkspace['session']>) => Promise<T>) => {
      const s = ws.session(actor);
      try { return await fn(s); } finally { await s.close(); }
    };
    await run('erin', (s) => planCut(s, file));
    await run('alice', (s) => approveCut(s, 'c1'));
    await run('bob', (s) => approveCut(s, 'c1'));
    await run('erin', (s) => dryRun(s, 'c1'));
    expect((await run('erin', (s) => runLive(s, 'c1'))).state).toBe('completed');
    expect((await run('erin', (s) => revertCut(s, 'c1', { mode: 'live', force: false }))).state).toBe('reverted');
    expect((await run('auditor', async (s) => replayStore(await s.store(), undefined, { trustRoot: ws.root }))).violations).toEqual([]);

    const writer = connect(ws.env.CUTTER_STORE_URL, { poolSize: 1 });
    await expect(writer.query(sql`UPDATE cutter.events SET type = 'X'`)).rejects.toThrow(/permission denied/);
    await expect(writer.query(sql`DELETE FROM cutter.events`)).rejects.toThrow(/permission denied/);
    await expect(writer.query(sql`TRUNCATE cutter.events`)).rejects.toThrow(/permission denied/);
    await writer.dispose();
  });
});
