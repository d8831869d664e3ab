/** bin/cutter as a real process against real PostgreSQL: every command, exit codes, JSON shapes, bad input. */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, sql } from '../../src/store/connection.js';
import { cutter } from '../support/cli.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  cutter(args, { cwd: ws.dir, env: { ...ws.env, ...env } });

beforeAll(async () => {
  ws = await testWorkspace({ rows: 20 });
  ws.writePlan('plan', bigPlan('cut-e2e', 4, 20));
});
afterAll(async () => ws?.drop());

describe('help and usage', () => {
  it('shows help with an example, and exits 2 on a usage error', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Example:');
    const sub = await run(['run', '--help']);
    expect(sub.stdout).toContain('Example:');
    const bad = await run(['frobnicate']);
    expect(bad.code).toBe(2);
    const noMode = await run(['run', 'x']);
    expect(noMode.code).toBe(2);
    expect(noMode.stderr).toContain('mode: pass --dry-run or --live');
  });
});

describe('bad input', () => {
  it('names the field, exits 2, prints no stack, and writes nothing', async () => {
    const file = path.join(ws.dir, 'bad.yaml');
    writeFileSync(
      file,
      'target: kb\nreason: r\nchanges:\n  - upsert: { title: t, body: b }\n  - upsert: { id: X, title: t, body: b, colour: red }\n',
    );
    const r = await run(['plan', file, '--as', 'erin']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('changes[0].upsert.id: required');
    expect(r.stderr).toContain('changes[1].upsert.colour: unknown column');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const debug = await run(['plan', file, '--as', 'erin', '--debug']);
    expect(debug.stderr).toMatch(/\n\s+at /);
    const db = connect(ws.store.url, { poolSize: 1 });
    const rows = await db
      .query(sql`SELECT count(*)::int AS n FROM cutter.events WHERE stream_id LIKE 'cut-%'`)
      .catch(() => [{ n: 0 }]);
    await db.dispose();
    expect(rows[0]?.n).toBe(0);
  });

  it('refuses an invalid config naming the key, and a hostile table name', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutter-badcfg-'));
    writeFileSync(
      path.join(dir, 'cutter.config.yaml'),
      'targets:\n  kb: { url: "env:X", table: "docs; DROP TABLE x", key: [id], columns: [a] }\nextra: 1\n',
    );
    const r = await cutter(['status'], { cwd: dir, env: ws.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('targets.kb.table');
    expect(r.stderr).toContain('extra: unknown key');
  });
});

describe('the governed flow through the CLI', () => {
  it('plans, approves, dry-runs, refuses, runs live, reports, replays, catches tampering', async () => {
    const planned = await run(['plan', 'plan.yaml', '--as', 'erin', '--json']);
    expect(planned.code).toBe(0);
    expect(planned.json).toMatchObject({
      cutId: 'cut-e2e',
      planHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      state: 'planned',
    });
    expect((await run(['approve', 'cut-e2e', '--as', 'erin'])).code).toBe(3);
    expect((await run(['approve', 'cut-e2e', '--as', 'alice', '--json'])).json).toMatchObject({
      approver: 'alice',
      state: 'planned',
    });
    expect((await run(['approve', 'cut-e2e', '--as', 'bob', '--json'])).json).toMatchObject({
      approver: 'bob',
      state: 'approved',
    });
    const early = await run(['run', 'cut-e2e', '--live', '--as', 'erin']);
    expect(early.code).toBe(3);
    expect(early.stderr).toContain('dry run required');
    const dry = await run(['run', 'cut-e2e', '--dry-run', '--as', 'erin', '--json']);
    expect(dry.code).toBe(0);
    expect(dry.json).toMatchObject({ mode: 'dry-run', passed: true, state: 'approved' });
    expect(dry.json.diff.deletes).toEqual([{ id: 'KB-0020' }]);
    const locked = await run(['run', 'cut-e2e', '--live', '--as', 'erin', '--json'], {
      CUTTER_EXECUTION_ENABLED: undefined,
    });
    expect(locked.code).toBe(3);
    expect(locked.json.error.reasons).toContain('lock 2 closed: CUTTER_EXECUTION_ENABLED is not 1 in the environment');
    const live = await run(['run', 'cut-e2e', '--live', '--as', 'erin', '--json']);
    expect(live.code).toBe(0);
    expect(live.json).toMatchObject({ cutId: 'cut-e2e', state: 'completed' });
    expect(live.json.phases.map((p: { phase: string }) => p.phase)).toEqual([
      'backup',
      'legA',
      'legB',
      'verify',
      'enact',
    ]);
    const status = await run(['status', '--json']);
    expect(status.json.cuts[0]).toMatchObject({ cutId: 'cut-e2e', state: 'completed', approvals: ['alice', 'bob'] });
    const history = await run(['history', 'cut-e2e', '--json']);
    expect(history.json.events.map((e: { type: string }) => e.type)).toContain('LifecycleEnacted');
    const md = await run(['report', 'cut-e2e']);
    expect(md.stdout).toContain('## Forbidden-action attestation');
    const json = await run(['report', 'cut-e2e', '--format', 'json']);
    expect(JSON.parse(json.stdout).attestations.every((a: { status: string }) => a.status === 'NOT DONE')).toBe(true);
    expect((await run(['replay', '--all'])).code).toBe(0);
    expect((await run(['projections', 'rebuild', '--json'])).json).toMatchObject({ streams: 1 });
    expect((await run(['replay', 'cut-e2e'])).code).toBe(0);
    // A superuser edits an event with triggers disabled: replay must catch it (exit 4).
    const db = connect(ws.store.url, { poolSize: 1 });
    await db.tx(async (tx) => {
      await tx.query(sql`SET LOCAL session_replication_role = replica`);
      await tx.query(
        sql`UPDATE cutter.events SET data = jsonb_set(data, '{approver}', '"erin"') WHERE stream_id = 'cut-cut-e2e' AND type = 'ApprovalGranted' AND data->>'approver' = 'bob'`,
      );
    });
    await db.dispose();
    const tampered = await run(['replay', '--all']);
    expect(tampered.code).toBe(4);
    expect(tampered.stdout).toContain('hash-chain');
  });

  it('engages and releases the kill-switch, refusing a double engage with exit 3', async () => {
    expect(
      (await run(['killswitch', 'engage', '--reason', 'incident 1', '--as', 'dana', '--json'])).json,
    ).toMatchObject({ engaged: true, reason: 'incident 1' });
    expect((await run(['killswitch', 'engage', '--reason', 'again', '--as', 'dana'])).code).toBe(3);
    expect((await run(['killswitch', 'status', '--json'])).json).toMatchObject({ engaged: true, by: 'dana' });
    expect((await run(['killswitch', 'release', '--as', 'dana'])).code).toBe(0);
  });

  it('generates keys as JSON, never overwriting', async () => {
    const k = await run(['keys', 'generate', 'zoe', '--json']);
    expect(k.json).toMatchObject({
      name: 'zoe',
      publicKey: expect.stringMatching(/^ed25519:/),
      privateKeyPath: expect.stringContaining('zoe'),
    });
    expect((await run(['keys', 'generate', 'zoe'])).code).toBe(2);
    const b = await run(['keys', 'generate', 'vault', '--backup', '--json']);
    expect(readFileSync(b.json.publicKeyPath, 'utf8')).toContain('BEGIN PGP PUBLIC KEY BLOCK');
  });
});

describe('the demo', () => {
  it('tells the whole story on the embedded default and exits 0, twice', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutter-demo-'));
    chmodSync(dir, 0o755);
    for (let i = 0; i < 2; i++) {
      const r = await cutter(['demo'], {
        cwd: dir,
        env: { CUTTER_STORE_URL: undefined, DATABASE_URL: undefined },
        timeoutMs: 170_000,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('replay clean');
      expect(r.stderr).toContain('lock 3 closed');
    }
  });
});
