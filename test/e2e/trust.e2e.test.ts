/**
 * The trust model as attacks (DESIGN §7, issue #13): each test does what an insider would — a
 * hostile --config, a borrowed key, the bare store API, SQL as the database owner — and asserts the
 * refusal before anything is recorded or any target row changes, or the replay violation by name.
 */
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { approvalPayload } from '../../machines/approvals.js';
import { signedMessage } from '../../events/signature.js';
import { publicKeyText } from '../../src/crypto/approvals.js';
import { loadApproverKey } from '../../src/crypto/keys.js';
import { keyFingerprint } from '../../src/crypto/signatures.js';
import { connect, sql } from '../../src/store/connection.js';
import { openStore, type EventStore } from '../../src/store/index.js';
import { cutter } from '../support/cli.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
let store: EventStore;
const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  cutter(args, { cwd: ws.dir, env: { ...ws.env, ...env } });
const configFile = () => path.join(ws.dir, 'cutter.config.yaml');

async function count(where: 'cut' | 'all' = 'all', cutId?: string): Promise<number> {
  const db = connect(ws.store.url, { poolSize: 1 });
  try {
    const [row] = cutId
      ? await db.query(sql`SELECT count(*)::int AS n FROM cutter.events WHERE stream_id = ${`cut-${cutId}`}`)
      : where === 'cut'
        ? await db.query(sql`SELECT count(*)::int AS n FROM cutter.events WHERE stream_id LIKE 'cut-%'`)
        : await db.query(sql`SELECT count(*)::int AS n FROM cutter.events`);
    return row.n;
  } finally {
    await db.dispose();
  }
}

async function targetRows(): Promise<string> {
  const rows = await ws.target.query`SELECT id, title, body, status FROM public.documents ORDER BY id`;
  return JSON.stringify(rows);
}

/** A config file in the workspace derived from the real one. */
function hostileConfig(name: string, edit: (c: Record<string, unknown>) => void): string {
  const c = parse(readFileSync(configFile(), 'utf8')) as Record<string, unknown>;
  edit(c);
  const file = path.join(ws.dir, name);
  writeFileSync(file, stringify(c));
  return file;
}

/** A signature envelope made with `key`, claiming `signer` (the bare store API lets anyone write one). */
function forgeEnvelope(
  key: KeyObject,
  signer: string,
  streamId: string,
  version: number,
  eventId: string,
  type: string,
  data: unknown,
) {
  const publicKey = publicKeyText(key);
  const fields = { signer, key: keyFingerprint(publicKey), governance: 1 };
  const sig = sign(
    null,
    signedMessage({
      streamId,
      version,
      eventId,
      type,
      schemaVersion: type === 'ApprovalGranted' ? 2 : 1,
      data,
      ...fields,
    }),
    key,
  ).toString('base64');
  return { ...fields, scheme: 'ed25519' as const, sig };
}

beforeAll(async () => {
  ws = await testWorkspace({ rows: 20 });
  store = await openStore(ws.store.url);
});
afterAll(async () => {
  await store?.close();
  await ws?.drop();
});

describe('authority comes from the pinned governance, not from local files', () => {
  it('refuses a config that carries approvers or a policy (exit 2), naming where they moved', async () => {
    const lax = hostileConfig('lax.yaml', (c) => {
      c.policy = { requiredApprovals: 1, requireDryRun: false };
      c.approvers = { alice: { publicKey: 'ed25519:x' } };
    });
    ws.writePlan('lax-plan', bigPlan('lax-1', 2, 20));
    const r = await run(['--config', lax, 'plan', path.join(ws.dir, 'lax-plan.yaml'), '--as', 'erin']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("policy: moved to the store's governance");
    expect(r.stderr).toContain("approvers: moved to the store's governance");
    expect(await count('cut')).toBe(0);
  });

  it('refuses every mutating command when no trust root is pinned (exit 3)', async () => {
    const unpinned = hostileConfig('unpinned.yaml', (c) => delete c.trust);
    ws.writePlan('u-plan', bigPlan('unpinned-1', 2, 20));
    const r = await run(['--config', unpinned, 'plan', path.join(ws.dir, 'u-plan.yaml'), '--as', 'erin']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no trust root is pinned');
    const ks = await run(['--config', unpinned, 'killswitch', 'engage', '--reason', 'x', '--as', 'alice']);
    expect(ks.code).toBe(3);
    expect(await count('cut')).toBe(0);
  });

  it('refuses a store whose genesis is not the pinned root (exit 3), and replay names it', async () => {
    const other = hostileConfig('other-root.yaml', (c) => (c.trust = { root: 'f'.repeat(64) }));
    ws.writePlan('o-plan', bigPlan('other-root-1', 2, 20));
    const r = await run(['--config', other, 'plan', path.join(ws.dir, 'o-plan.yaml'), '--as', 'erin']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('not the pinned one');
    const show = await run(['--config', other, 'governance', 'show']);
    expect(show.code).toBe(3);
    const replay = await run(['--config', other, 'replay', '--all', '--json']);
    expect(replay.code).toBe(4);
    expect(replay.json.violations.map((v: { rule: string }) => v.rule)).toContain('trust-root');
  });

  it('shows the governance with the root, version and key fingerprints', async () => {
    const r = await run(['governance', 'show', '--json']);
    expect(r.code).toBe(0);
    expect(r.json.root).toBe(ws.root);
    expect(r.json.version).toBe(1);
    const alice = r.json.members.find((m: { name: string }) => m.name === 'alice');
    expect(alice.key).toBe(keyFingerprint(publicKeyText(await loadApproverKey('alice', { dir: ws.keys }))));
  });
});

describe('a hostile --config cannot redirect an approved cut', () => {
  it('refuses a live run against another table or lifecycle than the cut was planned for (exit 3), nothing written', async () => {
    ws.writePlan('p-redirect', bigPlan('redirect-1', 2, 20));
    expect((await run(['plan', path.join(ws.dir, 'p-redirect.yaml'), '--as', 'erin'])).code).toBe(0);
    expect((await run(['approve', 'redirect-1', '--as', 'alice'])).code).toBe(0);
    expect((await run(['approve', 'redirect-1', '--as', 'bob'])).code).toBe(0);
    expect((await run(['run', 'redirect-1', '--dry-run', '--as', 'erin'])).code).toBe(0);
    const other = async () =>
      JSON.stringify(await ws.target.query`SELECT to_jsonb(d) AS r FROM public.documents2 d ORDER BY id`);
    const before = [await targetRows(), await other()];
    const events = await count('all', 'redirect-1');
    const elsewhere = hostileConfig('elsewhere.yaml', (c) => {
      (c.targets as { kb: { table: string } }).kb.table = 'public.documents2';
    });
    const stamp = hostileConfig('stamp.yaml', (c) => {
      (c.targets as { kb: { lifecycle: unknown } }).kb.lifecycle = { column: 'revision', value: '999' };
    });
    for (const [config, reason] of [
      [elsewhere, 'table is public.documents2 in the config; the cut was planned for public.documents'],
      [stamp, 'lifecycle is revision = "999" in the config; the cut was planned with status = "published"'],
    ]) {
      const live = await run(['--config', config!, 'run', 'redirect-1', '--live', '--as', 'erin']);
      expect(live.code, live.stderr).toBe(3);
      expect(live.stderr).toContain('is not the target the cut was planned and approved for');
      expect(live.stderr).toContain(reason);
      expect(live.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect([await targetRows(), await other()]).toEqual(before);
      expect(await count('all', 'redirect-1')).toBe(events);
    }
  });
});

describe('--as selects a key; the key decides', () => {
  it('refuses the author approving as "alice" with her own key (exit 3), recording nothing', async () => {
    ws.writePlan('p-self', bigPlan('self-1', 2, 20));
    expect((await run(['plan', path.join(ws.dir, 'p-self.yaml'), '--as', 'erin'])).code).toBe(0);
    const evil = path.join(ws.dir, 'evil-keys');
    mkdirSync(evil, { recursive: true });
    copyFileSync(path.join(ws.keys, 'erin.ed25519.key'), path.join(evil, 'alice.ed25519.key'));
    const before = await count('all', 'self-1');
    const r = await run(['approve', 'self-1', '--as', 'alice'], { CUTTER_KEYS_DIR: evil });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('is not the key enrolled for alice');
    expect(await count('all', 'self-1')).toBe(before);
  });

  it('refuses a key that is enrolled for nobody, and a name with no key', async () => {
    const mallory = await run(['keys', 'generate', 'mallory']);
    expect(mallory.code).toBe(0);
    const r = await run(['approve', 'self-1', '--as', 'mallory']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('mallory is not a member');
    const nobody = await run(['approve', 'self-1', '--as', 'nobody']);
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toContain('no key for nobody');
  });

  it('refuses a plan that names another author than its signer', async () => {
    ws.writePlan('p-author', { ...bigPlan('author-1', 2, 20), author: 'alice' });
    const r = await run(['plan', path.join(ws.dir, 'p-author.yaml'), '--as', 'erin']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('names author alice, but it is signed by erin');
    expect(await count('all', 'author-1')).toBe(0);
  });

  it('lets roles decide: an approver cannot plan, an operator-less member cannot run', async () => {
    ws.writePlan('p-role', { ...bigPlan('role-1', 2, 20), author: 'alice' });
    const plan = await run(['plan', path.join(ws.dir, 'p-role.yaml'), '--as', 'alice']);
    expect(plan.code).toBe(3);
    expect(plan.stderr).toContain('alice may not record CutPlanned: it needs role author');
    const dry = await run(['run', 'self-1', '--dry-run', '--as', 'alice']);
    expect(dry.code).toBe(3);
    expect(dry.stderr).toContain('needs role operator or author');
  });

  it('confirms the plan hash the approver reviewed', async () => {
    const wrong = await run(['approve', 'self-1', '--as', 'alice', '--plan-hash', 'a'.repeat(64)]);
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain('you reviewed plan hash');
    const status = await run(['status', 'self-1', '--json']);
    const ok = await run(['approve', 'self-1', '--as', 'alice', '--plan-hash', status.json.planHash]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('plan      kb: test cut (by erin; 3 changes)');
    expect(ok.stdout).toContain(
      'writes    public.documents (key id; columns title, body; enact sets status = "published")',
    );
  });
});

describe('the kill-switch', () => {
  it('any member engages it; only an admin releases it', async () => {
    expect((await run(['killswitch', 'engage', '--reason', 'drill', '--as', 'alice'])).code).toBe(0);
    const erin = await run(['killswitch', 'release', '--as', 'erin']);
    expect(erin.code).toBe(3);
    expect(erin.stderr).toContain('needs role admin');
    expect((await run(['killswitch', 'status', '--json'])).json.engaged).toBe(true);
    expect((await run(['killswitch', 'release', '--as', 'dana'])).code).toBe(0);
  });
});

describe('the bare store API and SQL', () => {
  it('approvals forged with fresh keys under real names do not open a live run, and replay names them', async () => {
    ws.writePlan('p-forge', bigPlan('forge-1', 2, 20));
    expect((await run(['plan', path.join(ws.dir, 'p-forge.yaml'), '--as', 'erin'])).code).toBe(0);
    const planHash = (await run(['status', 'forge-1', '--json'])).json.planHash;
    for (const who of ['alice', 'bob']) {
      const key = generateKeyPairSync('ed25519').privateKey;
      const version = (await store.readStream('cut-forge-1')).length + 1;
      const p = {
        cutId: 'forge-1',
        planHash,
        decision: 'approve' as const,
        at: new Date().toISOString(),
        approver: who,
        roles: ['approver', 'dba'],
        governanceVersion: 1,
      };
      const data = {
        ...p,
        signature: sign(null, Buffer.from(approvalPayload(p)), key).toString('base64'),
        publicKey: publicKeyText(key),
      };
      const id = randomUUID();
      const signature = forgeEnvelope(key, who, 'cut-forge-1', version, id, 'ApprovalGranted', data);
      await store.append(
        'cut-forge-1',
        [{ id, type: 'ApprovalGranted', data, metadata: { schemaVersion: 2, machineVersion: '1.0.0', signature } }],
        { expectedVersion: version - 1, context: { actor: who } },
      );
    }
    expect((await run(['run', 'forge-1', '--dry-run', '--as', 'erin'])).code).toBe(0);
    const before = await targetRows();
    const live = await run(['run', 'forge-1', '--live', '--as', 'erin']);
    expect(live.code).toBe(3);
    expect(live.stderr).toContain('approval by alice: signed with a key that is not the one enrolled now');
    expect(await targetRows()).toBe(before);
    const replay = await run(['replay', 'forge-1', '--json']);
    expect(replay.code).toBe(4);
    const rules = replay.json.violations.map((v: { rule: string; type: string }) => `${v.type}:${v.rule}`);
    expect(rules).toContain('ApprovalGranted:unknown-signer');
    const report = await run(['report', 'forge-1', '--format', 'json']);
    expect(report.code).toBe(4);
    const model = JSON.parse(report.stdout);
    expect(model.approvals.map((a: { signatureVerified: boolean }) => a.signatureVerified)).toEqual([false, false]);
    expect(model.trust).toMatchObject({ root: ws.root, governanceVersions: [1], checked: true });
  });

  it('an unsigned event and a member signing outside her role are replay violations', async () => {
    ws.writePlan('p-unsigned', bigPlan('unsigned-1', 2, 20));
    expect((await run(['plan', path.join(ws.dir, 'p-unsigned.yaml'), '--as', 'erin'])).code).toBe(0);
    const planHash = (await run(['status', 'unsigned-1', '--json'])).json.planHash;
    // alice (approver) signs an abort with her real key: a valid signature, the wrong role.
    const alice = await loadApproverKey('alice', { dir: ws.keys });
    const data = { planHash, reason: 'no', at: new Date().toISOString() };
    const id = randomUUID();
    const signature = forgeEnvelope(alice, 'alice', 'cut-unsigned-1', 2, id, 'CutAborted', data);
    await store.append(
      'cut-unsigned-1',
      [{ id, type: 'CutAborted', data, metadata: { schemaVersion: 1, machineVersion: '1.0.0', signature } }],
      { expectedVersion: 1, context: { actor: 'alice' } },
    );
    ws.writePlan('p-unsigned2', bigPlan('unsigned-2', 2, 20));
    expect((await run(['plan', path.join(ws.dir, 'p-unsigned2.yaml'), '--as', 'erin'])).code).toBe(0);
    await store.append(
      'cut-unsigned-2',
      [
        {
          type: 'CutAborted',
          data: { ...data, planHash: (await run(['status', 'unsigned-2', '--json'])).json.planHash },
          metadata: { schemaVersion: 1 },
        },
      ],
      { expectedVersion: 1, context: { actor: 'erin' } },
    );
    const r1 = await run(['replay', 'unsigned-1', '--json']);
    expect(r1.code).toBe(4);
    expect(r1.json.violations.map((v: { rule: string }) => v.rule)).toContain('role');
    const r2 = await run(['replay', 'unsigned-2', '--json']);
    expect(r2.code).toBe(4);
    expect(r2.json.violations.map((v: { rule: string }) => v.rule)).toContain('unsigned');
  });

  it('an unsigned kill-switch release through the bare store API leaves the switch engaged for the runner', async () => {
    ws.writePlan('p-ks', bigPlan('ks-1', 2, 20));
    expect((await run(['plan', path.join(ws.dir, 'p-ks.yaml'), '--as', 'erin'])).code).toBe(0);
    expect((await run(['approve', 'ks-1', '--as', 'alice'])).code).toBe(0);
    expect((await run(['approve', 'ks-1', '--as', 'bob'])).code).toBe(0);
    expect((await run(['run', 'ks-1', '--dry-run', '--as', 'erin'])).code).toBe(0);
    expect((await run(['killswitch', 'engage', '--reason', 'freeze', '--as', 'alice'])).code).toBe(0);
    const v = (await store.readStream('killswitch')).length;
    await store.append(
      'killswitch',
      [{ type: 'KillSwitchReleased', data: { at: new Date().toISOString() }, metadata: { schemaVersion: 1 } }],
      { expectedVersion: v },
    );
    const before = await targetRows();
    const live = await run(['run', 'ks-1', '--live', '--as', 'erin']);
    expect(live.code).toBe(3);
    expect(live.stderr).toContain('lock 3 closed');
    expect(live.stderr).toContain('fails unsigned');
    expect(await targetRows()).toBe(before);
    const replay = await run(['replay', '--all', '--json']);
    expect(
      replay.json.violations
        .filter((x: { streamId: string }) => x.streamId === 'killswitch')
        .map((x: { rule: string }) => x.rule),
    ).toEqual(['unsigned']);
  });

  it('a kill-switch event deleted from the middle of its stream by the owner breaks its chain in replay', async () => {
    const db = connect(ws.store.url, { poolSize: 1 });
    try {
      await db.tx(async (tx) => {
        await tx.query(sql`SET LOCAL session_replication_role = replica`);
        await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = 'killswitch' AND version = 1`);
      });
    } finally {
      await db.dispose();
    }
    const replay = await run(['replay', '--all', '--json']);
    expect(replay.code).toBe(4);
    expect(
      replay.json.violations
        .filter((x: { streamId: string }) => x.streamId === 'killswitch')
        .map((x: { rule: string }) => x.rule),
    ).toContain('hash-chain');
  });

  it('a database owner who replaces governance with their own genesis is refused everywhere', async () => {
    // An auditor's copy of the root, checked without the config:
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'cutter-auditor-'));
    const auditor = await cutter(['replay', 'self-1', '--trust-root', ws.root, '--json'], {
      cwd: elsewhere,
      env: { CUTTER_STORE_URL: ws.env.CUTTER_STORE_URL },
    });
    expect(auditor.json.trust.root).toBe(ws.root);
    // (the kill-switch stream carries the forgeries of the tests above; the cut itself is clean)
    expect(auditor.json.violations.filter((x: { streamId: string }) => x.streamId === 'cut-self-1')).toEqual([]);
    const db = connect(ws.store.url, { poolSize: 1 });
    const mallory = generateKeyPairSync('ed25519').privateKey;
    try {
      await db.tx(async (tx) => {
        await tx.query(sql`SET LOCAL session_replication_role = replica`);
        await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = 'governance'`);
        await tx.query(sql`DELETE FROM cutter.streams WHERE stream_id = 'governance'`);
      });
    } finally {
      await db.dispose();
    }
    const registry = {
      members: { mallory: { publicKey: publicKeyText(mallory), roles: ['admin', 'author', 'approver', 'operator'] } },
      policy: { requiredApprovals: 1, approvalTtlSeconds: 3600, requireDryRun: false, maxRows: 100 },
      admins: { threshold: 1 },
    };
    const { registryHash } = await import('../../events/governance.js');
    const data = {
      version: 1,
      registry,
      registryHash: registryHash(registry),
      previous: null,
      at: new Date().toISOString(),
    };
    const id = randomUUID();
    await store.append(
      'governance',
      [
        {
          id,
          type: 'GovernanceProposed',
          data,
          metadata: {
            schemaVersion: 1,
            signature: forgeEnvelope(mallory, 'mallory', 'governance', 1, id, 'GovernanceProposed', data),
          },
        },
      ],
      { context: { actor: 'mallory' } },
    );
    ws.writePlan('p-after', bigPlan('after-1', 2, 20));
    const r = await run(['plan', path.join(ws.dir, 'p-after.yaml'), '--as', 'erin']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('not the pinned one');
    const replay = await run(['replay', '--all', '--json']);
    expect(replay.code).toBe(4);
    expect(replay.json.violations.map((v: { rule: string }) => v.rule)).toContain('trust-root');
  });
});
