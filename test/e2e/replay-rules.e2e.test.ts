/**
 * Tampering of every kind, as the store's owner does it (triggers off), each named by `cutter replay`
 * run as a real process (exit 4): an event edited in place, deleted from the middle or the tail,
 * forged and inserted, two events swapped, metadata alone edited, an edited event re-signed with a
 * key of the owner's own and the chain recomputed. Each edit is undone afterwards (the rows put back
 * exactly) and the store replays clean again. A fast-check property does the same over random edits
 * of random events with the replay API. Last, a v1 event (ApprovalGranted with one `role`) stored in
 * PostgreSQL goes through `cutter replay`, `status` and `report`, upcast.
 */
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedMessage } from '../../events/signature.js';
import { replayStore } from '../../src/audit/replay.js';
import { approveCut } from '../../src/cuts/approve.js';
import { planCut } from '../../src/cuts/plan.js';
import { dryRun } from '../../src/runner/dry-run.js';
import { runLive } from '../../src/runner/live.js';
import { publicKeyText, signApproval } from '../../src/crypto/approvals.js';
import { loadApproverKey } from '../../src/crypto/keys.js';
import { keyFingerprint } from '../../src/crypto/signatures.js';
import { signEvents } from '../../src/governance/authority.js';
import { eventDigest } from '../../src/store/append.js';
import { linkHash } from '../../src/store/chain.js';
import { connect, sql, type Transaction } from '../../src/store/connection.js';
import { openStore, type EventStore } from '../../src/store/index.js';
import { cutter } from '../support/cli.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';
import { dataOf } from '../support/data.js';

let ws: TestWorkspace;
let store: EventStore;
const STREAM = 'cut-t1';
const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  cutter(args, { cwd: ws.dir, env: { ...ws.env, ...env } });
const rulesOf = (r: { json: { violations: { rule: string; streamId: string }[] } }, stream = STREAM) =>
  r.json.violations.filter((v) => v.streamId === stream).map((v) => v.rule);

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

/** Keeps an exact copy of the cut's rows (events, head, projection rows) to put back after each edit. */
async function keepCopy(): Promise<void> {
  await asOwner(async (tx) => {
    await tx.query(sql`CREATE TABLE public.kept_events AS SELECT * FROM cutter.events WHERE stream_id = ${STREAM}`);
    await tx.query(sql`CREATE TABLE public.kept_streams AS SELECT * FROM cutter.streams WHERE stream_id = ${STREAM}`);
    await tx.query(
      sql`CREATE TABLE public.kept_rows AS SELECT * FROM cutter.projection_rows WHERE stream_id = ${STREAM}`,
    );
  });
}

/** Puts the kept rows back, byte for byte (global positions and transaction ids included). */
async function restore(): Promise<void> {
  await asOwner(async (tx) => {
    await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = ${STREAM}`);
    await tx.query(sql`INSERT INTO cutter.events OVERRIDING SYSTEM VALUE SELECT * FROM public.kept_events`);
    await tx.query(sql`DELETE FROM cutter.streams WHERE stream_id = ${STREAM}`);
    await tx.query(sql`INSERT INTO cutter.streams SELECT * FROM public.kept_streams`);
    await tx.query(sql`DELETE FROM cutter.projection_rows WHERE stream_id = ${STREAM}`);
    await tx.query(sql`INSERT INTO cutter.projection_rows SELECT * FROM public.kept_rows`);
  });
}

/** The cut's violations through the replay API (the same function `cutter replay` calls). */
async function apiRules(): Promise<string[]> {
  const r = await replayStore(store, 't1', { trustRoot: ws.root });
  return r.violations.filter((v) => v.streamId === STREAM).map((v) => v.rule);
}

/** Re-links the stream's chain from `from` on (digests recomputed) and resets its head: what an owner who knows the scheme does. */
async function relink(tx: Transaction, from: number): Promise<void> {
  const events = await store.readStream(STREAM);
  let prev = events.find((e) => e.version === from - 1)?.hash ?? null;
  for (const e of events.filter((x) => x.version >= from)) {
    const digest = eventDigest(e);
    const hash = linkHash(prev, STREAM, e.version, digest);
    await tx.query(
      sql`UPDATE cutter.events SET digest = ${digest}, prev_hash = ${prev}, hash = ${hash} WHERE stream_id = ${STREAM} AND version = ${e.version}`,
    );
    prev = hash;
  }
  await tx.query(
    sql`UPDATE cutter.streams SET version = ${events.length}, head_hash = ${prev} WHERE stream_id = ${STREAM}`,
  );
}

/** `then`: a second owner transaction, run once `edit` committed (it reads the edited rows back). */
const tamperings: {
  kind: string;
  edit: (tx: Transaction) => Promise<void>;
  then?: (tx: Transaction) => Promise<void>;
  rules: string[];
  absent?: string[];
}[] = [
  {
    kind: 'an event edited in place (data)',
    edit: async (tx) =>
      void (await tx.query(
        sql`UPDATE cutter.events SET data = jsonb_set(data, '{approver}', '"erin"') WHERE stream_id = ${STREAM} AND version = 3`,
      )),
    rules: ['hash-chain', 'signature'],
  },
  {
    kind: 'a middle event deleted',
    edit: async (tx) =>
      void (await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = ${STREAM} AND version = 8`)),
    rules: ['hash-chain', 'version-gap'],
  },
  {
    kind: 'the tail event deleted',
    edit: async (tx) =>
      void (await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = ${STREAM} AND version = 16`)),
    rules: ['hash-chain'],
  },
  {
    kind: 'the tail event deleted and the head reset to the event before it',
    edit: async (tx) => {
      await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = ${STREAM} AND version = 16`);
      await tx.query(
        sql`UPDATE cutter.streams s SET version = 15, head_hash = e.hash FROM cutter.events e WHERE s.stream_id = ${STREAM} AND e.stream_id = s.stream_id AND e.version = 15`,
      );
    },
    rules: ['projection'], // the chain holds; the projection rows still say completed
    absent: ['hash-chain'],
  },
  {
    kind: 'a forged event inserted at the tail (a copy with another id, a made-up hash)',
    edit: async (tx) => {
      await tx.query(sql`
        INSERT INTO cutter.events (transaction_id, stream_id, version, event_id, type, data, metadata, recorded_at, digest, prev_hash, hash)
        SELECT transaction_id, stream_id, 17, ${randomUUID()}::uuid, type, data, metadata, recorded_at, digest, hash, ${'e'.repeat(64)}
        FROM cutter.events WHERE stream_id = ${STREAM} AND version = 16`);
      await tx.query(
        sql`UPDATE cutter.streams SET version = 17, head_hash = ${'e'.repeat(64)} WHERE stream_id = ${STREAM}`,
      );
    },
    rules: ['hash-chain', 'signature'],
  },
  {
    kind: 'two events swapped (versions 2 and 3)',
    edit: async (tx) => {
      await tx.query(sql`UPDATE cutter.events SET version = 1000 WHERE stream_id = ${STREAM} AND version = 2`);
      await tx.query(sql`UPDATE cutter.events SET version = 2 WHERE stream_id = ${STREAM} AND version = 3`);
      await tx.query(sql`UPDATE cutter.events SET version = 3 WHERE stream_id = ${STREAM} AND version = 1000`);
    },
    rules: ['hash-chain', 'signature'],
  },
  {
    kind: 'metadata alone edited (the recorded actor)',
    edit: async (tx) =>
      void (await tx.query(
        sql`UPDATE cutter.events SET metadata = jsonb_set(metadata, '{actor}', '"bob"') WHERE stream_id = ${STREAM} AND version = 2`,
      )),
    rules: ['hash-chain', 'signature'],
  },
  {
    kind: "an edited event re-signed with the owner's own key under a member's name, the chain recomputed",
    edit: async (tx) => {
      const e = (await store.readStream(STREAM)).find((x) => x.version === 13)!; // LegAWritten
      const data = { ...dataOf(e), updated: dataOf(e).updated + 1 };
      const owner = generateKeyPairSync('ed25519').privateKey;
      const fields = { signer: 'erin', key: keyFingerprint(publicKeyText(owner)), governance: 1 };
      const sig = sign(
        null,
        signedMessage({
          streamId: STREAM,
          version: e.version,
          eventId: e.eventId,
          type: e.type,
          schemaVersion: 1,
          data,
          ...fields,
        }),
        owner,
      ).toString('base64');
      const metadata = { ...e.metadata, signature: { ...fields, scheme: 'ed25519', sig } };
      await tx.query(
        sql`UPDATE cutter.events SET data = ${JSON.stringify(data)}::jsonb, metadata = ${JSON.stringify(metadata)}::jsonb WHERE stream_id = ${STREAM} AND version = 13`,
      );
    },
    then: (tx) => relink(tx, 13),
    rules: ['unknown-signer'],
    absent: ['hash-chain'],
  },
];

beforeAll(async () => {
  ws = await testWorkspace({ rows: 20 });
  store = await openStore(ws.store.url);
  // An honest completed cut, made with cutter's commands (in process: only replay needs the CLI here).
  const file = ws.writePlan('t1', bigPlan('t1', 4, 20));
  await ws.as('erin', (s) => planCut(s, file));
  await ws.as('alice', (s) => approveCut(s, 't1'));
  await ws.as('bob', (s) => approveCut(s, 't1'));
  await ws.as('erin', (s) => dryRun(s, 't1'));
  expect((await ws.as('erin', (s) => runLive(s, 't1'))).state).toBe('completed');
  expect((await store.readStream(STREAM)).length).toBe(16);
  await keepCopy();
});
afterAll(async () => {
  await store?.close();
  await ws?.drop();
});

describe('tampering of every kind, named by cutter replay', () => {
  it('the honest store replays clean (exit 0)', async () => {
    const r = await run(['replay', '--all', '--json']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.json.violations).toEqual([]);
  });

  it.each(tamperings)('$kind', async ({ edit, then, rules, absent }) => {
    await asOwner(edit);
    if (then) await asOwner(then);
    try {
      const r = await run(['replay', '--all', '--json']);
      expect(r.code).toBe(4);
      expect(rulesOf(r)).toEqual(expect.arrayContaining(rules));
      for (const rule of absent ?? []) expect(rulesOf(r)).not.toContain(rule);
      expect(r.stdout).not.toMatch(/\n\s+at /);
    } finally {
      await restore();
    }
    expect(await apiRules()).toEqual([]);
  });

  it("a forged event appended through the bare store API, signed with a fresh key under erin's name: the chain holds, the signer does not", async () => {
    const owner = generateKeyPairSync('ed25519').privateKey;
    const v = (await store.readStream(STREAM)).length;
    const data = {
      planHash: dataOf((await store.readStream(STREAM))[0]!).planHash,
      reason: 'forged',
      at: new Date().toISOString(),
    };
    const id = randomUUID();
    const fields = { signer: 'erin', key: keyFingerprint(publicKeyText(owner)), governance: 1 };
    const sig = sign(
      null,
      signedMessage({
        streamId: STREAM,
        version: v + 1,
        eventId: id,
        type: 'CutAborted',
        schemaVersion: 1,
        data,
        ...fields,
      }),
      owner,
    ).toString('base64');
    await store.append(
      STREAM,
      [
        {
          id,
          type: 'CutAborted',
          data,
          metadata: { schemaVersion: 1, machineVersion: '1.0.0', signature: { ...fields, scheme: 'ed25519', sig } },
        },
      ],
      { expectedVersion: v, context: { actor: 'erin' } },
    );
    try {
      const r = await run(['replay', 't1', '--json']);
      expect(r.code).toBe(4);
      // Aborting a completed cut is also illegal; the chain, recomputed by the append itself, holds.
      expect(rulesOf(r)).toEqual(['unknown-signer', 'illegal-transition']);
    } finally {
      await restore();
    }
    expect(await apiRules()).toEqual([]);
  });
});

describe('a property over edit kinds', () => {
  // Each kind breaks the chain wherever it lands; versions are drawn by fast-check.
  const kinds: Record<string, (tx: Transaction, v: number, w: number) => Promise<unknown>> = {
    'update data': (tx, v) =>
      tx.query(
        sql`UPDATE cutter.events SET data = data || '{"x": 1}'::jsonb WHERE stream_id = ${STREAM} AND version = ${v}`,
      ),
    'update metadata': (tx, v) =>
      tx.query(
        sql`UPDATE cutter.events SET metadata = metadata || '{"x": 1}'::jsonb WHERE stream_id = ${STREAM} AND version = ${v}`,
      ),
    delete: (tx, v) => tx.query(sql`DELETE FROM cutter.events WHERE stream_id = ${STREAM} AND version = ${v}`),
    swap: async (tx, v, w) => {
      const [a, b] = v === w ? [v, (v % 16) + 1] : [v, w];
      await tx.query(sql`UPDATE cutter.events SET version = 1000 WHERE stream_id = ${STREAM} AND version = ${a}`);
      await tx.query(sql`UPDATE cutter.events SET version = ${a} WHERE stream_id = ${STREAM} AND version = ${b}`);
      await tx.query(sql`UPDATE cutter.events SET version = ${b} WHERE stream_id = ${STREAM} AND version = 1000`);
    },
    'insert a copy': (tx, v) =>
      tx.query(sql`
      INSERT INTO cutter.events (transaction_id, stream_id, version, event_id, type, data, metadata, recorded_at, digest, prev_hash, hash)
      SELECT transaction_id, stream_id, 17, ${randomUUID()}::uuid, type, data, metadata, recorded_at, digest, prev_hash, hash
      FROM cutter.events WHERE stream_id = ${STREAM} AND version = ${v}`),
    'reset the head': (tx, v) =>
      tx.query(sql`UPDATE cutter.streams SET version = ${v - 1} WHERE stream_id = ${STREAM}`),
  };

  it('every edit of any event is named hash-chain by replay, and the restored store is clean', async () => {
    const reached: Record<string, number> = {};
    for (const [kind, edit] of Object.entries(kinds)) {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 16 }), async (v, w) => {
          await asOwner((tx) => edit(tx, v, w).then(() => undefined));
          try {
            expect(await apiRules(), `${kind} at ${v}`).toContain('hash-chain');
          } finally {
            await restore();
          }
          reached[kind] = (reached[kind] ?? 0) + 1;
        }),
        { numRuns: 3, seed: 15 },
      );
    }
    expect(Object.keys(reached).sort()).toEqual(Object.keys(kinds).sort());
    expect(Object.values(reached).every((n) => n === 3)).toBe(true);
    expect(await apiRules()).toEqual([]);
  });
});

describe('an event stored in an old schema version', () => {
  it('a v1 ApprovalGranted (one role) in PostgreSQL is upcast by replay, status and report', async () => {
    ws.writePlan('old', bigPlan('old', 2, 20));
    expect((await run(['plan', path.join(ws.dir, 'old.yaml'), '--as', 'erin'])).code).toBe(0);
    const planHash = (await run(['status', 'old', '--json'])).json.planHash as string;
    // alice's approval as cutter wrote it before schema version 2: `role`, not `roles`.
    const key = await loadApproverKey('alice', { dir: ws.keys });
    const p = {
      cutId: 'old',
      planHash,
      decision: 'approve' as const,
      at: new Date().toISOString(),
      approver: 'alice',
      roles: ['approver'],
      governanceVersion: 1,
    };
    const { roles, ...rest } = p;
    const v1 = { ...rest, role: roles[0]!, signature: signApproval(key, p), publicKey: publicKeyText(key) };
    const s = ws.session('alice');
    try {
      const auth = await s.authority();
      const signed = await signEvents(auth, 'cut-old', 1, [
        { type: 'ApprovalGranted', data: v1, metadata: { schemaVersion: 1, machineVersion: '1.0.0' } },
      ]);
      await (await s.store()).append('cut-old', signed, { expectedVersion: 1, context: { actor: 'alice' } });
    } finally {
      await s.close();
    }
    const [stored] = await store.readStream('cut-old', { fromVersion: 2, toVersion: 2 });
    expect(stored).toMatchObject({
      type: 'ApprovalGranted',
      metadata: { schemaVersion: 1 },
      data: { role: 'approver' },
    });
    expect(dataOf(stored!).roles).toBeUndefined();
    expect((await run(['approve', 'old', '--as', 'bob'])).code).toBe(0);

    const replay = await run(['replay', 'old', '--json']);
    expect(replay.code, replay.stdout).toBe(0);
    expect(replay.json.violations).toEqual([]);
    const status = await run(['status', 'old', '--json']);
    expect(status.code).toBe(0);
    expect(status.json).toMatchObject({ state: 'approved', approvals: ['alice', 'bob'] });
    const report = await run(['report', 'old', '--format', 'json']);
    expect(report.code, report.stderr).toBe(0);
    const model = JSON.parse(report.stdout);
    expect(model.approvals).toEqual([
      expect.objectContaining({ approver: 'alice', roles: ['approver'], signatureVerified: true }),
      expect.objectContaining({ approver: 'bob', roles: ['approver', 'dba'], signatureVerified: true }),
    ]);
    const md = await run(['report', 'old']);
    expect(md.code).toBe(0);
    expect(md.stdout).toContain('alice');
  });
});
