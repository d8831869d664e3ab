/**
 * Anchors outside the store (DESIGN §7, issue #14): signed checkpoints kept as files and the
 * leg-B / revert rows in the target's ledger. Each tampering is done as the store's owner would —
 * triggers off, rows deleted or rewritten with the chain recomputed, stream heads reset, a stream
 * hidden — and the anchor that catches it is shown.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventDigest } from '../../src/store/append.js';
import { linkHash } from '../../src/store/chain.js';
import { connect, sql, type Transaction } from '../../src/store/connection.js';
import { cutter } from '../support/cli.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  cutter(args, { cwd: ws.dir, env: { ...ws.env, ...env } });
const rulesOf = (r: { json: { violations: { rule: string; streamId: string }[] } }) =>
  r.json.violations.map((v) => `${v.streamId}:${v.rule}`);

/** As the store's owner: triggers off for this transaction. */
async function asOwner(fn: (tx: Transaction) => Promise<void>): Promise<void> {
  const db = connect(ws.store.url, { poolSize: 1 });
  try {
    await db.tx(async (tx) => {
      await tx.query(sql`SET LOCAL session_replication_role = replica`);
      await fn(tx);
    });
  } finally {
    await db.dispose();
  }
}

/** Deletes a stream's events from `fromVersion` on and resets its head to what is left. */
async function truncate(tx: Transaction, streamId: string, fromVersion: number): Promise<void> {
  await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = ${streamId} AND version >= ${fromVersion}`);
  const [last] = await tx.query(
    sql`SELECT version, hash FROM cutter.events WHERE stream_id = ${streamId} ORDER BY version DESC LIMIT 1`,
  );
  await tx.query(
    sql`UPDATE cutter.streams SET version = ${last.version}, head_hash = ${last.hash} WHERE stream_id = ${streamId}`,
  );
}

async function fullCut(id: string): Promise<void> {
  ws.writePlan(id, bigPlan(id, 3, 20));
  for (const args of [
    ['plan', path.join(ws.dir, `${id}.yaml`), '--as', 'erin'],
    ['approve', id, '--as', 'alice'],
    ['approve', id, '--as', 'bob'],
    ['run', id, '--dry-run', '--as', 'erin'],
    ['run', id, '--live', '--as', 'erin'],
  ]) {
    const r = await run(args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  }
}

beforeAll(async () => {
  ws = await testWorkspace({ rows: 20 });
  await fullCut('a1');
  await fullCut('a2');
});
afterAll(async () => ws?.drop());

describe('checkpoints and target ledgers', () => {
  it('records a signed checkpoint, keeps it as a file, and an honest store replays clean against both anchors', async () => {
    const cp = await run(['checkpoint', '--out', path.join(ws.dir, 'cp1.json'), '--as', 'alice', '--json']);
    expect(cp.code).toBe(0);
    expect(cp.json.streams).toBe(3); // governance, cut-a1, cut-a2 (no kill-switch event yet)
    const file = JSON.parse(readFileSync(path.join(ws.dir, 'cp1.json'), 'utf8'));
    expect(file).toMatchObject({
      format: 'cutter-checkpoint/1',
      trustRoot: ws.root,
      event: { type: 'CheckpointRecorded', signature: { signer: 'alice' } },
    });
    expect(file.event.data.streams.map((s: { streamId: string }) => s.streamId)).toEqual(
      expect.arrayContaining(['cut-a1', 'cut-a2', 'governance']),
    );
    expect((await run(['revert', 'a1', '--live', '--as', 'erin'])).code).toBe(0);
    expect((await run(['checkpoint', '--out', path.join(ws.dir, 'cp2.json'), '--as', 'erin'])).code).toBe(0);
    const clean = await run(['replay', '--all', '--checkpoint', path.join(ws.dir, 'cp2.json'), '--targets', '--json']);
    expect(clean.json.violations).toEqual([]);
    expect(clean.code).toBe(0);
    // kb and kb2 share schema public, so one ledger, read once: leg B and verify rows of a1 and a2, a1's revert.
    expect(clean.json.anchors).toEqual({
      checkpointsInStore: 2,
      checkpointFile: true,
      targets: [{ target: 'kb', rows: 5 }],
    });
    const said = await run(['replay', '--all']);
    expect(said.stdout).toContain('the checkpoint this workspace last saw');
    expect(said.stdout).toContain('target ledgers not checked (--targets)');
    const elsewhere = await cutter(['replay', '--all', '--trust-root', ws.root], {
      cwd: mkdtempSync(path.join(os.tmpdir(), 'cutter-elsewhere-')),
      env: { CUTTER_STORE_URL: ws.env.CUTTER_STORE_URL },
    });
    expect(elsewhere.stdout).toContain('no kept checkpoint checked (--checkpoint <file>)');
    // The ledger rows carry the checkpoint and the cut stream head.
    const [revertRow] = await ws.target.query`SELECT payload FROM public.cutter_ledger WHERE kind = 'revert'`;
    expect(revertRow.payload).toMatchObject({
      storeHead: { version: expect.any(Number) },
      checkpoint: { version: 1, root: file.event.data.root },
    });
    expect((await run(['checkpoint', '--verify', path.join(ws.dir, 'cp1.json')])).code).toBe(0);
  });

  it('a revert that "never happened" (its events deleted, the head reset) is caught by the kept checkpoint and by the target ledger', async () => {
    await asOwner(async (tx) => {
      const [started] = await tx.query(
        sql`SELECT version FROM cutter.events WHERE stream_id = 'cut-a1' AND type = 'RevertStarted'`,
      );
      await truncate(tx, 'cut-a1', started.version);
    });
    expect((await run(['projections', 'rebuild'])).code).toBe(0);
    expect((await run(['status', 'a1', '--json'])).json.state).toBe('completed');
    // The store alone cannot tell: checkpoint 2 (recorded after the revert) is the only store anchor left, so delete it too.
    await asOwner((tx) => truncate(tx, 'checkpoints', 2));
    // This workspace remembers checkpoint 2 (.cutter/last-checkpoint.json): its replay and its next checkpoint object.
    const here = await run(['replay', '--all', '--json']);
    expect(here.code).toBe(4);
    expect(rulesOf(here)).toEqual(expect.arrayContaining(['cut-a1:checkpoint', 'checkpoints:checkpoint']));
    const next = await run(['checkpoint', '--as', 'alice']);
    expect(next.code).toBe(4);
    expect(next.stderr).toContain('the checkpoint this workspace last saw');
    // Another machine, with neither the file nor the targets, sees a clean store.
    const storeOnly = await cutter(['replay', '--all', '--trust-root', ws.root, '--json'], {
      cwd: mkdtempSync(path.join(os.tmpdir(), 'cutter-elsewhere-')),
      env: { CUTTER_STORE_URL: ws.env.CUTTER_STORE_URL },
    });
    expect(storeOnly.json.violations).toEqual([]);
    rmSync(path.join(ws.dir, '.cutter', 'last-checkpoint.json'));
    const withFile = await run(['replay', '--all', '--checkpoint', path.join(ws.dir, 'cp2.json'), '--json']);
    expect(withFile.code).toBe(4);
    expect(withFile.json.violations.find((v: { streamId: string }) => v.streamId === 'cut-a1')).toMatchObject({
      rule: 'checkpoint',
      message: expect.stringContaining('truncated'),
    });
    const withTargets = await run(['replay', '--all', '--targets', '--json']);
    expect(withTargets.code).toBe(4);
    expect(rulesOf(withTargets)).toContain('cut-a1:ledger');
    const verify = await run(['checkpoint', '--verify', path.join(ws.dir, 'cp2.json')]);
    expect(verify.code).toBe(4);
    expect(verify.stderr).toContain('does not extend');
  });

  it('a new checkpoint refuses to sign over a log that no longer extends the previous one', async () => {
    // Checkpoint 1 still names cut-a1 as it was then; rewrite a2 instead and the next checkpoint refuses.
    await asOwner(async (tx) => {
      const rows = await tx.query(
        sql`SELECT event_id::text AS event_id, stream_id, version, type, data, metadata, recorded_at, prev_hash, hash FROM cutter.events WHERE stream_id = 'cut-a2' ORDER BY version`,
      );
      let prev: string | null = null;
      for (const r of rows) {
        const data = r.version === 1 ? { ...r.data, reason: 'rewritten history' } : r.data;
        const recordedAt = new Date(r.recorded_at).toISOString();
        const hash = linkHash(
          prev,
          r.stream_id,
          r.version,
          eventDigest({ eventId: r.event_id, type: r.type, data, metadata: r.metadata, recordedAt }),
        );
        await tx.query(
          sql`UPDATE cutter.events SET data = ${JSON.stringify(data)}::jsonb, prev_hash = ${prev}, hash = ${hash} WHERE stream_id = 'cut-a2' AND version = ${r.version}`,
        );
        prev = hash;
      }
      await tx.query(sql`UPDATE cutter.streams SET head_hash = ${prev} WHERE stream_id = 'cut-a2'`);
    });
    const chain = await run(['replay', 'a2', '--json']);
    expect(rulesOf(chain)).not.toContain('cut-a2:hash-chain'); // the chain was recomputed: it holds
    expect(rulesOf(chain)).toContain('cut-a2:signature'); // the author's signature does not
    expect(rulesOf(chain)).toContain('cut-a2:checkpoint'); // and checkpoint 1 names another hash
    const next = await run(['checkpoint', '--as', 'alice']);
    expect(next.code).toBe(4);
    expect(next.stderr).toContain('the log no longer extends checkpoint 1');
    expect(next.stderr).toContain('rewritten');
  });

  it('a hidden stream is named missing by the kept checkpoint', async () => {
    await asOwner(async (tx) => {
      await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = 'cut-a2'`);
      await tx.query(sql`DELETE FROM cutter.streams WHERE stream_id = 'cut-a2'`);
    });
    const r = await run(['replay', '--all', '--checkpoint', path.join(ws.dir, 'cp1.json'), '--json']);
    expect(r.code).toBe(4);
    expect(
      r.json.violations.find(
        (v: { streamId: string; rule: string }) => v.streamId === 'cut-a2' && v.rule === 'checkpoint',
      ).message,
    ).toContain('missing');
  });

  it('a deleted head row, an edit under a kept hash, or a deleted ledger row in the target is named', async () => {
    // A fresh store: the one above is tampered with beyond what a new checkpoint would sign over.
    await ws.drop();
    ws = await testWorkspace({ rows: 20 });
    await fullCut('a3');
    expect((await run(['checkpoint', '--out', path.join(ws.dir, 'cp3.json'), '--as', 'bob'])).code).toBe(0);
    // 1. The head row deleted and a field the signature does not cover edited: the chain still names it.
    await asOwner(async (tx) => {
      await tx.query(
        sql`UPDATE cutter.events SET recorded_at = recorded_at - interval '400 days' WHERE stream_id = 'cut-a3' AND version = 2`,
      );
      await tx.query(sql`DELETE FROM cutter.streams WHERE stream_id = 'cut-a3'`);
    });
    const headless = await run(['replay', 'a3', '--json']);
    expect(headless.code).toBe(4);
    expect(rulesOf(headless)).toContain('cut-a3:hash-chain');
    // 2. An edit below a checkpointed version with the stored hash kept: a kept checkpoint re-hashes the chain.
    await asOwner((tx) =>
      tx
        .query(
          sql`UPDATE cutter.events SET data = jsonb_set(data, '{reason}', '"rewritten"') WHERE stream_id = 'cut-a3' AND version = 1`,
        )
        .then(() => undefined),
    );
    const verify = await run(['checkpoint', '--verify', path.join(ws.dir, 'cp3.json')]);
    expect(verify.code).toBe(4);
    expect(verify.stderr).toContain('chain breaks');
    // 3. A leg-B row deleted in the target: the log's LegBRecorded names the row that is gone.
    await ws.target.query`DELETE FROM public.cutter_ledger WHERE cut_id = 'a3' AND kind = 'leg_b'`;
    const targets = await run(['replay', '--all', '--targets', '--json']);
    expect(
      targets.json.violations.find(
        (v: { streamId: string; rule: string; type: string }) =>
          v.streamId === 'cut-a3' && v.rule === 'ledger' && v.type === 'LegBRecorded',
      ).message,
    ).toContain('no such row');
  });
});
