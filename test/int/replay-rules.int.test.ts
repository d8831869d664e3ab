/**
 * Replay and trust rules shown firing against a real store (issue #15): each test builds the
 * violating history in PostgreSQL as an insider would — events signed with the members' real keys
 * and appended through the bare store API (with or without the inline projection), or rows edited
 * as the database owner with triggers disabled — and asserts the rule by name in `replayStore`'s
 * report (what `cutter replay` prints); the legal history beside it replays with no violation.
 * docs/RULES.md maps every rule to the test that fires it.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { sha256 } from '../../events/canonical.js';
import { signedMessage } from '../../events/signature.js';
import {
  planHash as hashPlan,
  toStorable,
  type CutPlan,
  type DomainEvent,
  type KillSwitchEvent,
} from '../../events/index.js';
import { MACHINE_VERSION } from '../../machines/cut.js';
import { replayStore, type ReplayReport } from '../../src/audit/replay.js';
import { approveCut } from '../../src/cuts/approve.js';
import { changeSetBlobId } from '../../src/cuts/changes.js';
import { planCut } from '../../src/cuts/plan.js';
import { signEvents, type Authority } from '../../src/governance/authority.js';
import { applyGovernance } from '../../src/governance/commands.js';
import { signApproval } from '../../src/crypto/approvals.js';
import { loadApproverKey } from '../../src/crypto/keys.js';
import type { ApprovalRecord } from '../../machines/approvals.js';
import type { Session } from '../../src/workspace/session.js';
import { dryRun } from '../../src/runner/dry-run.js';
import { runLive } from '../../src/runner/live.js';
import { putBlob } from '../../src/store/blobs.js';
import { sql } from '../../src/store/connection.js';
import { openStore } from '../../src/store/index.js';
import {
  backupTaken,
  forgedApprovedCut,
  liveStarted,
  OPEN,
  POLICY,
  signedApproval,
  storeForgedBackup,
  withStoreDb,
} from '../support/forge.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';
import { dataOf } from '../support/data.js';

let ws: TestWorkspace;
/** One session per member, opened once: signing many small appends stays fast. */
const sessions = new Map<string, { session: Session; auth?: Authority }>();
beforeAll(async () => {
  ws = await testWorkspace({ rows: 20 });
});
afterAll(async () => {
  for (const { session } of sessions.values()) await session.close();
  await ws?.drop();
});

function sessionOf(actor: string): { session: Session; auth?: Authority } {
  let m = sessions.get(actor);
  if (!m) sessions.set(actor, (m = { session: ws.session(actor) }));
  return m;
}

/** Plans, approves and dry-runs a cut with cutter's own commands (an honest history). */
async function ready(id: string, plan: unknown = bigPlan(id, 2, 20)): Promise<void> {
  const file = ws.writePlan(id, plan);
  await ws.as('erin', (s) => planCut(s, file));
  await ws.as('alice', (s) => approveCut(s, id));
  await ws.as('bob', (s) => approveCut(s, id));
  await ws.as('erin', (s) => dryRun(s, id));
}

/**
 * Appends `events` to cut `cutId`'s stream signed by `actor` with their real, enrolled key. Through
 * the session's store (inline projection kept up to date) or, with `bare`, the library's bare
 * `openStore` (no projection, no busy-target check).
 */
async function appendSigned(
  actor: string,
  cutId: string,
  events: (DomainEvent | KillSwitchEvent)[],
  opts: { bare?: boolean; stream?: string } = {},
): Promise<void> {
  const m = sessionOf(actor);
  const auth = (m.auth ??= await m.session.authority());
  const session = m.session;
  const store = opts.bare ? await openStore(ws.store.url) : await session.store();
  try {
    const stream = opts.stream ?? `cut-${cutId}`;
    const v = await store.streamVersion(stream);
    const signed = await signEvents(
      auth,
      stream,
      v,
      events.map((e) => toStorable(e, { machineVersion: MACHINE_VERSION })),
    );
    await store.append(stream, signed, { expectedVersion: v === 0 ? 'no_stream' : v, context: { actor } });
  } finally {
    if (opts.bare) await store.close();
  }
}

/** A cut up to approved with a passing dry run, every event signed by the member cutter would have signed it with. */
async function signedApprovedCut(plan: CutPlan, opts: { recorded?: unknown; hash?: string; policy?: object } = {}) {
  const f = await forgedApprovedCut(ws, plan, opts);
  const [planned, a1, a2, ...dry] = f.events;
  if (opts.policy) Object.assign(planned!.data, { policy: opts.policy });
  await appendSigned('erin', plan.id, [planned!]);
  await appendSigned('alice', plan.id, [a1!]);
  await appendSigned('bob', plan.id, [a2!]);
  await appendSigned('erin', plan.id, dry);
  return f;
}

const onePlan = (id: string, target = 'kb'): CutPlan => ({
  id,
  target,
  author: 'erin',
  reason: 'fix a title',
  changes: [{ upsert: { id: 'KB-0001', title: 'fixed', body: 'body 1' } }],
});

/** The whole store replayed (every stream, the checks across streams), or one cut (`cutId`). */
async function replayed(cutId?: string): Promise<ReplayReport> {
  return replayStore(await sessionOf('auditor').session.store(), cutId, { trustRoot: ws.root });
}

/** The rules replay names for one stream (`cut-<id>` for a cut), in report order. */
async function rulesOf(stream: string): Promise<string[]> {
  const r = await replayed(stream.startsWith('cut-') ? stream.slice(4) : undefined);
  return r.violations.filter((v) => v.streamId === stream).map((v) => v.rule);
}
const cutRules = (id: string) => rulesOf(`cut-${id}`);

/** Runs `statements` as the database owner with triggers (the append-only guards) disabled. */
async function asOwner(
  fn: (tx: { query: (q: ReturnType<typeof sql>) => Promise<any[]> }) => Promise<void>,
): Promise<void> {
  await withStoreDb(ws, (db) =>
    db.tx(async (tx) => {
      await tx.query(sql`SET LOCAL session_replication_role = replica`);
      await fn(tx);
    }),
  );
}

describe('the legal histories', () => {
  it("cutter's own commands, and the same events signed and appended by hand, replay with no violation at all", async () => {
    await ready('honest');
    expect((await ws.as('erin', (s) => runLive(s, 'honest'))).state).toBe('completed');
    await signedApprovedCut(onePlan('by-hand'));
    const r = await replayed();
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.streams).toBe(2);
  });
});

describe('replay rules (src/domain/replay.ts Rule) against the store', () => {
  it('version-gap: an event deleted from the middle of a cut stream by the owner', async () => {
    await ready('gap');
    expect(await cutRules('gap')).toEqual([]);
    await asOwner(
      async (tx) => void (await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = 'cut-gap' AND version = 5`)),
    );
    const r = await replayed('gap');
    const gap = r.violations.find((v) => v.streamId === 'cut-gap' && v.rule === 'version-gap');
    expect(gap).toMatchObject({ version: 6, message: 'version 6 where 5 was expected' });
    expect(r.violations.filter((v) => v.streamId === 'cut-gap').map((v) => v.rule)).toContain('hash-chain');
  });

  it('plan-hash: a CutPlanned whose recorded plan does not hash to its plan hash', async () => {
    const approved = onePlan('ph-plan');
    await signedApprovedCut(approved, {
      recorded: { ...approved, changes: [{ upsert: { id: 'KB-0002', title: 'pwned', body: 'pwned' } }] },
    });
    const r = await replayed('ph-plan');
    expect(r.violations.filter((v) => v.streamId === 'cut-ph-plan')).toEqual([
      expect.objectContaining({
        version: 1,
        type: 'CutPlanned',
        rule: 'plan-hash',
        message: 'the recorded plan does not hash to the recorded plan hash',
      }),
    ]);
  });

  it('plan-hash: a later event that names another plan hash than the planned one', async () => {
    const f = await signedApprovedCut(onePlan('ph-later'));
    await appendSigned('erin', 'ph-later', [
      { type: 'DryRunStarted', data: { runId: 'dry-2', planHash: 'f'.repeat(64), executor: 'simulator', at: f.at(5) } },
    ]);
    const r = await replayed('ph-later');
    expect(r.violations.filter((v) => v.streamId === 'cut-ph-later')).toEqual([
      expect.objectContaining({
        version: 11,
        type: 'DryRunStarted',
        rule: 'plan-hash',
        message: expect.stringContaining('differs from the planned'),
      }),
    ]);
    // The same event naming the planned hash is legal.
    const g = await signedApprovedCut(onePlan('ph-same'));
    await appendSigned('erin', 'ph-same', [
      { type: 'DryRunStarted', data: { runId: 'dry-2', planHash: g.planHash, executor: 'simulator', at: g.at(5) } },
    ]);
    expect(await cutRules('ph-same')).toEqual([]);
  });

  it('illegal-transition: a signed event the machine does not allow in the state reached', async () => {
    const f = await signedApprovedCut(onePlan('illegal'));
    const abort: DomainEvent = { type: 'CutAborted', data: { planHash: f.planHash, reason: 'no', at: f.at(5) } };
    await appendSigned('erin', 'illegal', [abort]);
    expect(await cutRules('illegal')).toEqual([]); // aborting an approved cut is legal
    await appendSigned('erin', 'illegal', [
      { type: 'DryRunStarted', data: { runId: 'dry-2', planHash: f.planHash, executor: 'simulator', at: f.at(6) } },
    ]);
    const r = await replayed('illegal');
    expect(r.violations.filter((v) => v.streamId === 'cut-illegal')).toEqual([
      expect.objectContaining({
        version: 12,
        type: 'DryRunStarted',
        rule: 'illegal-transition',
        message: 'DryRunStarted is not allowed in state aborted',
      }),
    ]);
  });

  it("schema: a signed event whose data is not its type's schema", async () => {
    const f = await signedApprovedCut(onePlan('schema'));
    await appendSigned('erin', 'schema', [
      {
        type: 'DryRunStarted',
        data: { runId: 'dry-2', planHash: f.planHash, executor: 'simulator', at: f.at(5), colour: 'red' },
      } as never,
    ]);
    expect(await cutRules('schema')).toEqual(['schema']);
  });

  // Pure folds, shown in test/unit/replay.unit.test.ts; here the same histories as a store holds them.
  const tails: [string, (f: { planHash: string; at: (s: number) => string }) => DomainEvent[]][] = [
    [
      'locks-evidence',
      (f) => [
        {
          ...liveStarted(f.planHash, 'live-1', f.at(10)),
          data: {
            ...liveStarted(f.planHash, 'live-1', f.at(10)).data,
            evidence: { at: f.at(10), locks: { ...OPEN, env: false }, approvals: ['alice', 'bob'] },
          },
        } as DomainEvent,
      ],
    ],
    [
      'phase-order',
      (f) => [
        liveStarted(f.planHash, 'live-1', f.at(10)),
        {
          type: 'LegAWritten',
          data: {
            runId: 'live-1',
            planHash: f.planHash,
            executor: 'postgres-table',
            at: f.at(11),
            inserted: 0,
            updated: 1,
            deleted: 0,
            digest: 'c'.repeat(64),
            receipt: 'r1',
          },
        },
      ],
    ],
    [
      'executor-mode',
      (f) => [
        {
          type: 'DryRunStarted',
          data: { runId: 'dry-2', planHash: f.planHash, executor: 'postgres-table', at: f.at(5) },
        } as never,
      ],
    ],
    [
      'revert-without-backup',
      (f) => [
        {
          type: 'RevertStarted',
          data: {
            runId: 'rv-1',
            planHash: f.planHash,
            executor: 'postgres-table',
            at: f.at(12),
            backupId: 'none',
            force: false,
            evidence: { at: f.at(12), locks: OPEN },
          },
        },
      ],
    ],
  ];
  it.each(tails)('%s: the violating history signed and stored', async (rule, tail) => {
    const id = `tail-${rule}`;
    // A target name of its own (replay keys targets by name): this unfinished run holds only it.
    const f = await signedApprovedCut(onePlan(id, `kb-${rule}`));
    await appendSigned('erin', id, tail(f), { bare: true });
    expect(await cutRules(id)).toContain(rule);
  });

  it('projection: stored projection rows edited by the owner differ from a fresh fold', async () => {
    await signedApprovedCut(onePlan('proj'));
    expect(await cutRules('proj')).toEqual([]);
    await asOwner(
      async (tx) =>
        void (await tx.query(
          sql`UPDATE cutter.projection_rows SET row = jsonb_set(row, '{state}', '"completed"') WHERE projection = 'cuts' AND row_key = 'proj'`,
        )),
    );
    const r = await replayed('proj');
    expect(r.violations.filter((v) => v.streamId === 'cut-proj')).toEqual([
      expect.objectContaining({
        rule: 'projection',
        message: expect.stringContaining('stored projection rows differ'),
      }),
    ]);
  });

  it('target-exclusive: a second live start on a held target, written past the projection; a start after the holder ended is legal', async () => {
    const fs: Record<string, { planHash: string; at: (s: number) => string }> = {};
    for (const id of ['x1', 'x2', 'x3']) fs[id] = await signedApprovedCut(onePlan(id, 'kb2'));
    const start = (id: string) => liveStarted(fs[id]!.planHash, `live-${id}`, fs[id]!.at(10));
    await appendSigned('erin', 'x1', [start('x1')]);
    await appendSigned('erin', 'x1', [
      {
        type: 'PhaseFailed',
        data: {
          runId: 'live-x1',
          planHash: fs.x1!.planHash,
          executor: 'postgres-table',
          at: fs.x1!.at(11),
          phase: 'backup',
          error: { code: 'Internal', message: 'x' },
        },
      },
    ]);
    await appendSigned('erin', 'x2', [start('x2')]);
    const legal = await replayed();
    expect(legal.violations.filter((v) => v.rule === 'target-exclusive')).toEqual([]);
    // The inline projection refuses x3 (the target is x2's) …
    await expect(appendSigned('erin', 'x3', [start('x3')])).rejects.toMatchObject({
      message: 'target busy with cut x2',
    });
    // … the bare store API does not.
    // A transaction left open elsewhere on the server since before the forged start (here: in the
    // store's database) holds back a gapless follower's horizon; replay audits every committed event.
    let release!: () => void;
    let begun!: () => void;
    const started = new Promise<void>((resolve) => (begun = resolve));
    const held = withStoreDb(ws, (db) =>
      db.tx(async (tx) => {
        await tx.query(sql`SELECT pg_current_xact_id()`);
        begun();
        await new Promise<void>((resolve) => (release = resolve));
      }),
    );
    await started;
    await appendSigned('erin', 'x3', [start('x3')], { bare: true });
    const r = await replayed().finally(() => release());
    await held;
    expect(r.violations.filter((v) => v.rule === 'target-exclusive')).toEqual([
      expect.objectContaining({
        streamId: 'cut-x3',
        version: 11,
        type: 'LiveRunStarted',
        message: 'target kb2 already held by cut x2',
      }),
    ]);
  });

  it("backup: a backup deleted from the vault, and one whose stored plaintext hash differs from the event's", async () => {
    const f = await signedApprovedCut(onePlan('bk'));
    const start = liveStarted(f.planHash, 'live-bk', f.at(10));
    const { plaintextHash } = await storeForgedBackup(ws, {
      cutId: 'bk',
      runId: 'live-bk',
      planHash: f.planHash,
      backupId: 'bk-backup',
      entries: [['["KB-0001"]', '{"id":"KB-0001"}']],
    });
    await appendSigned('erin', 'bk', [start, backupTaken(f.planHash, 'live-bk', f.at(11), 'bk-backup', plaintextHash)]);
    await appendSigned('erin', 'bk', [
      {
        type: 'PhaseFailed',
        data: {
          runId: 'live-bk',
          planHash: f.planHash,
          executor: 'postgres-table',
          at: f.at(12),
          phase: 'legA',
          error: { code: 'Internal', message: 'x' },
        },
      },
    ]);
    expect(await cutRules('bk')).toEqual([]);
    await asOwner(
      async (tx) =>
        void (await tx.query(
          sql`UPDATE cutter.backups SET plaintext_sha256 = ${'0'.repeat(64)} WHERE backup_id = 'bk-backup'`,
        )),
    );
    expect(await cutRules('bk')).toEqual(['backup']);
    await asOwner(async (tx) => void (await tx.query(sql`DELETE FROM cutter.backups WHERE backup_id = 'bk-backup'`)));
    const r = await replayed('bk');
    expect(r.violations.filter((v) => v.streamId === 'cut-bk')).toEqual([
      expect.objectContaining({
        version: 12,
        type: 'BackupTaken',
        rule: 'backup',
        message: 'backup bk-backup is not in the store',
      }),
    ]);
  });

  it("backup: a chunk of a real run's encrypted backup rewritten by the owner", async () => {
    const backupId = dataOf(
      (await ws.as('auditor', async (s) => (await s.store()).readStream('cut-honest'))).find(
        (e) => e.type === 'BackupTaken',
      )!,
    ).backupId as string;
    expect(await cutRules('honest')).toEqual([]);
    await asOwner(
      async (tx) =>
        void (await tx.query(
          sql`UPDATE cutter.blob_chunks SET data = set_byte(data, 40, get_byte(data, 40) # 255) WHERE blob_id = ${backupId} AND seq = 0`,
        )),
    );
    const rules = await cutRules('honest');
    expect(rules).toEqual(['backup']);
  });

  it('change-set: a change-set plan whose stored change file is not the one the plan hashed', async () => {
    const honest = `${JSON.stringify({ upsert: { id: 'KB-0001', title: 'fixed', body: 'body 1' } })}\n`;
    const plan = (id: string, text: string): CutPlan => ({
      id,
      target: 'kb',
      author: 'erin',
      reason: 'large',
      changeSet: { format: 'ndjson', sha256: sha256(text), bytes: text.length, count: 1, upserts: 1, deletes: 0 },
    });
    await withStoreDb(ws, (db) =>
      db.tx((tx) =>
        putBlob(
          tx,
          changeSetBlobId(sha256(honest)),
          (async function* () {
            yield honest;
          })(),
        ),
      ),
    );
    await signedApprovedCut(plan('cs-ok', honest));
    expect(await cutRules('cs-ok')).toEqual([]);
    const other = `${JSON.stringify({ upsert: { id: 'KB-0003', title: 'x', body: 'y' } })}\n`;
    const evil = `${JSON.stringify({ upsert: { id: 'KB-0003', title: 'pwned', body: 'pwned' } })}\n`;
    // The blob stored under the plan's hash holds other bytes.
    await withStoreDb(ws, (db) =>
      db.tx((tx) =>
        putBlob(
          tx,
          changeSetBlobId(sha256(other)),
          (async function* () {
            yield evil;
          })(),
        ),
      ),
    );
    const f = await signedApprovedCut(plan('cs-bad', other));
    expect(f.planHash).toBe(hashPlan(plan('cs-bad', other)));
    const r = await replayed('cs-bad');
    expect(r.violations.filter((v) => v.streamId === 'cut-cs-bad')).toEqual([
      expect.objectContaining({ version: 1, type: 'CutPlanned', rule: 'change-set' }),
    ]);
  });
});

describe('streams replay must not know', () => {
  it('unknown-stream: a stream cutter never writes, appended through the bare store API', async () => {
    const before = await replayed();
    expect(before.violations.filter((v) => v.rule === 'unknown-stream')).toEqual([]);
    const store = await openStore(ws.store.url);
    try {
      await store.append('notes-mallory', [{ type: 'Note', data: { text: 'hello' } }], {
        expectedVersion: 'no_stream',
      });
    } finally {
      await store.close();
    }
    expect(await rulesOf('notes-mallory')).toEqual(['unknown-stream']);
  });
});

/**
 * TRUST_RULES (src/domain/governance.ts) as a store holds them: each shown in test/unit/governance
 * .unit.test.ts as a pure fold; here signed by the members' real keys and stored. The kill-switch
 * and governance tests come last: they change what every later event is checked against.
 */
describe('trust rules against the store', () => {
  it("policy: a CutPlanned recording a policy that is not governance's", async () => {
    await signedApprovedCut(onePlan('policy'), { policy: { ...POLICY, requiredApprovals: 1 } });
    expect(await cutRules('policy')).toContain('policy');
  });

  it('approval: an approval naming alice, signed by bob', async () => {
    const f = await forgedApprovedCut(ws, onePlan('approval'));
    await appendSigned('erin', 'approval', [f.events[0]!]);
    await appendSigned('bob', 'approval', [await signedApproval(ws, 'approval', f.planHash, 'alice', f.at(1))]);
    expect(await cutRules('approval')).toEqual(['approval']);
  });

  it('four-eyes: the author approving her own cut with her own key', async () => {
    const f = await forgedApprovedCut(ws, onePlan('four-eyes'));
    await appendSigned('erin', 'four-eyes', [f.events[0]!]);
    // erin holds no approver role: cutter refuses to sign it (requireRole), she signs it herself.
    const own = await signedApproval(ws, 'four-eyes', f.planHash, 'erin', f.at(1));
    const { auth } = sessionOf('erin');
    const id = randomUUID();
    const fields = { signer: 'erin', key: auth!.signer.fingerprint, governance: 1 };
    const sig = await auth!.signer.sign(
      signedMessage({
        streamId: 'cut-four-eyes',
        version: 2,
        eventId: id,
        type: 'ApprovalGranted',
        schemaVersion: 2,
        data: own.data,
        ...fields,
      }),
    );
    const store = await openStore(ws.store.url);
    try {
      await store.append(
        'cut-four-eyes',
        [
          {
            id,
            type: 'ApprovalGranted',
            data: own.data,
            metadata: {
              schemaVersion: 2,
              machineVersion: MACHINE_VERSION,
              signature: { ...fields, scheme: 'ed25519', sig },
            },
          },
        ],
        { expectedVersion: 1 },
      );
    } finally {
      await store.close();
    }
    expect(await cutRules('four-eyes')).toEqual(expect.arrayContaining(['role', 'four-eyes']));
  });

  it('lock-evidence: a live start whose evidence names a kill-switch version the stream does not have', async () => {
    const f = await signedApprovedCut(onePlan('lock-ev', 'kb-lock-ev'));
    const start = liveStarted(f.planHash, 'live-le', f.at(10));
    await appendSigned('erin', 'lock-ev', [
      {
        ...start,
        data: {
          ...start.data,
          evidence: { at: f.at(10), locks: { ...OPEN, killSwitchVersion: 7 }, approvals: ['alice', 'bob'] },
        },
      } as DomainEvent,
    ]);
    expect(await cutRules('lock-ev')).toEqual(['lock-evidence']);
  });

  it('killswitch: a release of a kill-switch that is not engaged (an engage then a release is legal)', async () => {
    const at = new Date().toISOString();
    await appendSigned('alice', '', [{ type: 'KillSwitchEngaged', data: { reason: 'drill', at } }], {
      stream: 'killswitch',
    });
    await appendSigned('dana', '', [{ type: 'KillSwitchReleased', data: { at } }], { stream: 'killswitch' });
    expect(await rulesOf('killswitch')).toEqual([]);
    await appendSigned('dana', '', [{ type: 'KillSwitchReleased', data: { at } }], { stream: 'killswitch' });
    const r = await replayed();
    expect(r.violations.filter((v) => v.streamId === 'killswitch')).toEqual([
      expect.objectContaining({
        version: 3,
        type: 'KillSwitchReleased',
        rule: 'killswitch',
        message: 'KillSwitchReleased while the kill-switch is already released',
      }),
    ]);
  });

  it('revoked and governance: events signed under version 1 after version 2 (bob removed) took effect', async () => {
    const g = parse(readFileSync(ws.governanceFile, 'utf8')) as { members: Record<string, unknown> };
    delete g.members.bob;
    const v2 = `${ws.governanceFile}.v2.yaml`;
    writeFileSync(v2, stringify(g));
    const bob = sessionOf('bob');
    bob.auth ??= await bob.session.authority(); // bob's authority as read before version 2
    await ws.as('dana', async (s) => expect((await applyGovernance(s, v2)).applied).toBe('effective'));
    // erin and alice sign with authority read afresh (version 2): legal.
    sessionOf('erin').auth = undefined;
    sessionOf('alice').auth = undefined;
    const f = await forgedApprovedCut(ws, onePlan('revoked'));
    await appendSigned('erin', 'revoked', [f.events[0]!]);
    // Her approval names the version she signs under, as cutter's approve does.
    const mine = await signedApproval(ws, 'revoked', f.planHash, 'alice', f.at(1));
    const key = await loadApproverKey('alice', { dir: ws.keys });
    const p = { ...(mine.data as ApprovalRecord), governanceVersion: 2 };
    await appendSigned('alice', 'revoked', [
      { type: 'ApprovalGranted', data: { ...p, signature: signApproval(key, p) } },
    ]);
    expect(await cutRules('revoked')).toEqual([]);
    // bob's session still holds version 1, under which he was an approver.
    expect(bob.auth.version).toBe(1);
    await appendSigned('bob', 'revoked', [await signedApproval(ws, 'revoked', f.planHash, 'bob', f.at(2))]);
    expect(await cutRules('revoked')).toEqual(['revoked']);
    // dana, unchanged by version 2, signing under version 1 after it took effect.
    const d = sessionOf('dana');
    d.auth = await d.session.authority();
    expect(d.auth.version).toBe(2);
    const old = await forgedApprovedCut(ws, onePlan('stale'));
    await appendSigned('erin', 'stale', [old.events[0]!]);
    d.auth = { ...d.auth, version: 1, registry: d.auth.governance.versions[0]!.registry };
    await appendSigned('dana', 'stale', [
      { type: 'CutAborted', data: { planHash: old.planHash, reason: 'stale', at: old.at(3) } },
    ]);
    expect(await cutRules('stale')).toEqual(['governance']);
  });
});
