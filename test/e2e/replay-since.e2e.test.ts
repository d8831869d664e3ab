/**
 * `cutter replay --all --since-checkpoint <file>` (issue #18): a kept checkpoint is verified, then
 * only the cut streams written after it are replayed (each from its first event); streams unchanged
 * since it are vouched for by their signed head hash alone, and the output says so. Tampering is
 * done as the store's owner (triggers off): a rewritten prefix of a stream written since, a
 * rewritten (re-chained) unchanged stream, a forged checkpoint file — and the one edit this mode
 * cannot see (an unchanged stream's content edited under its stale hashes), which a full replay does.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventDigest } from '../../src/store/append.js';
import { linkHash } from '../../src/store/chain.js';
import { connect, sql, type Transaction } from '../../src/store/connection.js';
import { cutter } from '../support/cli.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
const run = (args: string[]) => cutter(args, { cwd: ws.dir, env: ws.env });
const rulesOf = (r: { json: { violations: { rule: string; streamId: string }[] } }) =>
  r.json.violations.map((v) => `${v.streamId}:${v.rule}`);
const kept = () => path.join(ws.dir, 'kept.json');
const since = (...more: string[]) => run(['replay', '--all', '--since-checkpoint', kept(), '--json', ...more]);

/** As the store's owner: triggers off for this transaction. */
async function asOwner<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
  const db = connect(ws.store.url, { poolSize: 1 });
  try {
    return await db.tx(async (tx) => {
      await tx.query(sql`SET LOCAL session_replication_role = replica`);
      return fn(tx);
    });
  } finally {
    await db.dispose();
  }
}

/** Edits one event's `reason`-like field; with `rechain`, recomputes the stream's hashes and head too. */
async function rewrite(streamId: string, version: number, rechain: boolean): Promise<() => Promise<void>> {
  return asOwner(async (tx) => {
    const rows = await tx.query(
      sql`SELECT event_id::text AS event_id, stream_id, version, type, data, metadata, recorded_at, prev_hash, hash FROM cutter.events WHERE stream_id = ${streamId} ORDER BY version`,
    );
    const [head] = await tx.query(sql`SELECT head_hash FROM cutter.streams WHERE stream_id = ${streamId}`);
    let prev: string | null = null;
    for (const r of rows) {
      const data = r.version === version ? { ...r.data, at: '2020-01-01T00:00:00.000Z' } : r.data;
      const recordedAt = new Date(r.recorded_at).toISOString();
      const hash: string = rechain
        ? linkHash(
            prev,
            r.stream_id,
            r.version,
            eventDigest({ eventId: r.event_id, type: r.type, data, metadata: r.metadata, recordedAt }),
          )
        : r.hash;
      await tx.query(
        sql`UPDATE cutter.events SET data = ${JSON.stringify(data)}::jsonb, prev_hash = ${rechain ? prev : r.prev_hash}, hash = ${hash} WHERE stream_id = ${streamId} AND version = ${r.version}`,
      );
      prev = hash;
    }
    if (rechain) await tx.query(sql`UPDATE cutter.streams SET head_hash = ${prev} WHERE stream_id = ${streamId}`);
    // The undo: the original rows and head back.
    return () =>
      asOwner(async (undo) => {
        for (const r of rows)
          await undo.query(
            sql`UPDATE cutter.events SET data = ${JSON.stringify(r.data)}::jsonb, prev_hash = ${r.prev_hash}, hash = ${r.hash} WHERE stream_id = ${streamId} AND version = ${r.version}`,
          );
        await undo.query(sql`UPDATE cutter.streams SET head_hash = ${head.head_hash} WHERE stream_id = ${streamId}`);
      });
  });
}

async function cut(id: string, steps: ('plan' | 'dry' | 'live' | 'revert')[]): Promise<void> {
  ws.writePlan(id, bigPlan(id, 3, 20));
  const args = {
    plan: [
      ['plan', path.join(ws.dir, `${id}.yaml`), '--as', 'erin'],
      ['approve', id, '--as', 'alice'],
      ['approve', id, '--as', 'bob'],
    ],
    dry: [['run', id, '--dry-run', '--as', 'erin']],
    live: [['run', id, '--live', '--as', 'erin']],
    revert: [['revert', id, '--live', '--as', 'erin']],
  };
  for (const a of steps.flatMap((s) => args[s])) {
    const r = await run(a);
    expect(r.code, `${a.join(' ')}: ${r.stderr}`).toBe(0);
  }
}

beforeAll(async () => {
  ws = await testWorkspace({ rows: 20 });
  await cut('s1', ['plan', 'dry', 'live']);
  await cut('s2', ['plan', 'dry']);
  expect((await run(['checkpoint', '--out', kept(), '--as', 'alice'])).code).toBe(0);
  // After the checkpoint: s1 reverted (a stream it names, written further), s3 new; s2 untouched.
  await cut('s1', ['revert']);
  await cut('s3', ['plan', 'dry']);
});
afterAll(async () => ws?.drop());

describe('replay after a kept checkpoint', () => {
  it('replays only the cut streams written after it, and says which streams it took on the checkpoint’s word', async () => {
    const full = await run(['replay', '--all', '--json']);
    expect(full.json.violations).toEqual([]);
    const r = await since();
    expect(r.json.violations).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.json.since).toMatchObject({ checkpointVersion: 1, anchored: true, replayedStreams: 2 });
    // cut-s2 and governance are unchanged since the checkpoint.
    expect(r.json.since.unchangedStreams).toBe(2);
    const [{ n: s2Events }] = await asOwner((tx) =>
      tx.query(sql`SELECT count(*)::int AS n FROM cutter.events WHERE stream_id = 'cut-s2'`),
    );
    expect(r.json.streams).toBe(2); // s1 (from its first event) and s3
    expect(r.json.events).toBe(full.json.events - s2Events);
    const text = await run(['replay', '--all', '--since-checkpoint', kept()]);
    expect(text.stdout).toContain('2 cut stream(s) written after it replayed in full');
    expect(text.stdout).toContain('were not re-read, re-hashed or re-checked');
  });

  it('a prefix rewritten (hashes kept) in a stream written since is caught: that stream is re-hashed from its start', async () => {
    const undo = await rewrite('cut-s1', 2, false);
    try {
      const r = await since();
      expect(r.code).toBe(4);
      expect(rulesOf(r)).toContain('cut-s1:hash-chain');
      expect(r.json.since.anchored).toBe(true);
    } finally {
      await undo();
    }
    expect((await since()).code).toBe(0);
  });

  it('an unchanged stream rewritten with its chain recomputed breaks the anchor: nothing is taken from it, the replay is full', async () => {
    const undo = await rewrite('cut-s2', 2, true);
    try {
      const r = await since();
      expect(r.code).toBe(4);
      expect(r.json.since.anchored).toBe(false);
      expect(r.json.streams).toBe(3); // every cut stream replayed
      expect(rulesOf(r)).toEqual(expect.arrayContaining(['cut-s2:checkpoint', 'cut-s2:signature']));
      const text = await run(['replay', '--all', '--since-checkpoint', kept()]);
      expect(text.stdout).toContain('it does not verify, so nothing was taken from it');
    } finally {
      await undo();
    }
  });

  it('the limit, stated: an unchanged stream edited under its stale hashes passes this mode; a full replay catches it', async () => {
    const undo = await rewrite('cut-s2', 2, false);
    try {
      const r = await since();
      expect(r.json.violations).toEqual([]);
      expect(r.json.since.unchangedStreams).toBe(2);
      const full = await run(['replay', '--all', '--json']);
      expect(full.code).toBe(4);
      expect(rulesOf(full)).toContain('cut-s2:hash-chain');
    } finally {
      await undo();
    }
  });

  it('a forged checkpoint file anchors nothing; bad use exits 2 naming the option', async () => {
    const file = JSON.parse(readFileSync(kept(), 'utf8'));
    const s2 = file.event.data.streams.find((h: { streamId: string }) => h.streamId === 'cut-s2');
    s2.version -= 1; // claims s2 was shorter: the root and the signature no longer match
    const forged = path.join(ws.dir, 'forged.json');
    writeFileSync(forged, JSON.stringify(file));
    const r = await run(['replay', '--all', '--since-checkpoint', forged, '--json']);
    expect(r.code).toBe(4);
    expect(r.json.since.anchored).toBe(false);
    expect(r.json.streams).toBe(3);
    expect(rulesOf(r)).toContain('checkpoints:checkpoint');
    const one = await run(['replay', 's1', '--since-checkpoint', kept()]);
    expect(one.code).toBe(2);
    expect(one.stderr).toContain('--since-checkpoint');
    const missing = await run(['replay', '--all', '--since-checkpoint', path.join(ws.dir, 'nope.json')]);
    expect(missing.code).toBe(2);
  });
});
