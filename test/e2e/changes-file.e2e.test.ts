/**
 * Large cuts name a change file: validated line by line when planned (errors name the line), stored
 * content-addressed in the store, streamed batch by batch through every phase, and reverted from a
 * streamed backup. bin/cutter as a real process against real PostgreSQL; more rows than one batch.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, sql } from '../../src/store/connection.js';
import { cutter } from '../support/cli.js';
import { testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
const run = (args: string[]) => cutter(args, { cwd: ws.dir, env: ws.env, timeoutMs: 300_000 });
const ROWS = 12_000; // more than two 5,000-change batches
const EXISTING = 4_000;

beforeAll(async () => {
  ws = await testWorkspace({ rows: EXISTING });
});
afterAll(async () => ws?.drop());

function writeChanges(name: string, lines: string[]): string {
  writeFileSync(path.join(ws.dir, `${name}.ndjson`), `${lines.join('\n')}\n`);
  writeFileSync(
    path.join(ws.dir, `${name}.yaml`),
    `id: ${name}\ntarget: kb\nreason: large cut\nchangesFile: ${name}.ndjson\n`,
  );
  return path.join(ws.dir, `${name}.yaml`);
}

const id = (i: number) =>
  i <= EXISTING / 2 ? `KB-${String(i).padStart(4, '0')}` : `NEW-${String(i).padStart(7, '0')}`;

describe('change files', () => {
  it('refuses a bad line naming it, exit 2, and writes nothing', async () => {
    const plan = writeChanges('bad', [
      JSON.stringify({ upsert: { id: 'A-1', title: 't', body: 'b' } }),
      JSON.stringify({ upsert: { id: 'A-2', title: 't' } }),
      '{"upsert": ',
      JSON.stringify({ upsert: { id: 'A-1', title: 't', body: 'b' } }),
      '{"upsert": {"id": "A-5", "title": "t", "body": {"__proto__": "kept?"}}}',
    ]);
    const r = await run(['plan', plan, '--as', 'erin']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('changesFile line 2.upsert.body: required');
    expect(r.stderr).toContain('changesFile line 3: not a JSON object');
    expect(r.stderr).toContain('changesFile line 4.upsert: key {"id":"A-1"} already changed by changesFile line 1');
    expect(r.stderr).toContain('changesFile line 5.upsert.body.__proto__: a key named __proto__ cannot be kept intact');
    const db = connect(ws.store.url, { poolSize: 1 });
    const [events] = await db
      .query(sql`SELECT count(*)::int AS n FROM cutter.events WHERE stream_id LIKE 'cut-%'`)
      .catch(() => [{ n: 0 }]);
    const [blobs] = await db.query(sql`SELECT count(*)::int AS n FROM cutter.blobs`).catch(() => [{ n: 0 }]);
    await db.dispose();
    expect(events?.n).toBe(0);
    expect(blobs?.n).toBe(0);
  });

  it(`runs a ${ROWS.toLocaleString('en-US')}-change cut from a file end to end, and reverts it exactly`, async () => {
    const before = await ws.target.snapshot();
    const lines = Array.from({ length: ROWS }, (_, k) =>
      JSON.stringify({ upsert: { id: id(k + 1), title: `title v2 ${k + 1}`, body: `body ✓ "${k + 1}"\t\\` } }),
    );
    lines.push(JSON.stringify({ delete: { id: `KB-${String(EXISTING).padStart(4, '0')}` } }));
    const plan = writeChanges('big', lines);
    const planned = await run(['plan', plan, '--as', 'erin', '--json']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.json).toMatchObject({
      cutId: 'big',
      rowCount: ROWS + 1,
      precheck: { existing: EXISTING / 2 + 1, absent: ROWS - EXISTING / 2 },
    });
    for (const a of ['alice', 'bob']) expect((await run(['approve', 'big', '--as', a])).code).toBe(0);
    const dry = await run(['run', 'big', '--dry-run', '--as', 'erin', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json.diff.counts).toEqual({
      inserts: ROWS - EXISTING / 2,
      updates: EXISTING / 2,
      deletes: 1,
      unchanged: 0,
    });
    expect(dry.json.diff.inserts).toHaveLength(100);

    const live = await run(['run', 'big', '--live', '--as', 'erin', '--json']);
    expect(live.code, live.stderr).toBe(0);
    const phase = (p: string) => live.json.phases.find((x: { phase: string }) => x.phase === p).detail;
    expect(phase('legA')).toMatchObject({ inserted: ROWS - EXISTING / 2, updated: EXISTING / 2, deleted: 1 });
    expect(phase('verify').expectedHash).toBe(dry.json.expectedPostImageHash);
    expect(phase('verify').actualHash).toBe(phase('verify').expectedHash);
    expect(phase('backup').preImageHash).toBe(dry.json.nonMutation.preImageHashBefore);
    const [row] = await ws.target.query`SELECT title, body, status FROM public.documents WHERE id = ${id(ROWS)}`;
    expect(row).toEqual({ title: `title v2 ${ROWS}`, body: `body ✓ "${ROWS}"\t\\`, status: 'published' });
    const [count] = await ws.target.query`SELECT count(*)::int AS n FROM public.documents`;
    expect(count?.n).toBe(EXISTING - 1 + ROWS - EXISTING / 2);

    // The change file and the backup live in the store as blobs, not in events.
    const db = connect(ws.store.url, { poolSize: 1 });
    const [size] = await db.query(sql`SELECT max(length(data::text))::int AS n FROM cutter.events`);
    const blobs = await db.query(sql`SELECT blob_id, bytes FROM cutter.blobs ORDER BY blob_id`);
    await db.dispose();
    expect(size?.n).toBeLessThan(20_000);
    expect(blobs.map((b) => (b.blob_id as string).slice(0, 3)).sort()).toEqual(['bk-', 'cha']);

    expect((await run(['replay', 'big'])).code).toBe(0);
    const preview = await run(['revert', 'big', '--dry-run', '--as', 'erin', '--json']);
    expect(preview.json).toMatchObject({ restore: EXISTING / 2 + 1, remove: ROWS - EXISTING / 2 });
    const reverted = await run(['revert', 'big', '--live', '--as', 'erin', '--json']);
    expect(reverted.code, reverted.stderr).toBe(0);
    expect(await ws.target.snapshot()).toEqual(before);

    // Evidence outside the log is re-hashed by replay: a forged chunk (edited with the immutability
    // triggers disabled, as a superuser could) is a violation, exit 4.
    const admin = connect(ws.store.url, { poolSize: 1 });
    await admin.tx(async (tx) => {
      await tx.query(sql`ALTER TABLE cutter.blob_chunks DISABLE TRIGGER blob_chunks_immutable`);
      await tx.query(
        sql`UPDATE cutter.blob_chunks SET data = overlay(data PLACING '\x20'::bytea FROM 10) WHERE blob_id LIKE 'changes-%' AND seq = 0`,
      );
      await tx.query(sql`ALTER TABLE cutter.blob_chunks ENABLE TRIGGER blob_chunks_immutable`);
    });
    const forged = await run(['replay', 'big', '--json']);
    expect(forged.code).toBe(4);
    expect(JSON.stringify(forged.json)).toContain('change-set');
    await admin.dispose();
  });
});
