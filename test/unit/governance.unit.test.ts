/**
 * The pure trust core (DESIGN §7): the governance fold from its root, and the per-event checks
 * replay makes — each rule shown firing, and the honest history shown clean.
 */
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { approvalPayload, evaluateApprovals } from '../../machines/approvals.js';
import { Registry, registryHash, trustRoot } from '../../events/governance.js';
import { signedMessage } from '../../events/signature.js';
import { foldGovernance, type GovernanceStored } from '../../src/domain/governance.js';
import { checkCutTrust, checkEventTrust, checkKillSwitchStream } from '../../src/domain/trust.js';
import { publicKeyText } from '../../src/crypto/approvals.js';
import { keyFingerprint } from '../../src/crypto/signatures.js';
import { nodeCrypto } from '../../src/governance/authority.js';
import { HASH, planned } from '../support/cut-events.js';

const names = ['root', 'root2', 'alice', 'bob', 'erin', 'mallory'] as const;
const keys = Object.fromEntries(names.map((n) => [n, generateKeyPairSync('ed25519').privateKey])) as Record<
  (typeof names)[number],
  KeyObject
>;
const pub = (n: (typeof names)[number]) => publicKeyText(keys[n]);
const POLICY = { requiredApprovals: 2, approvalTtlSeconds: 3600, requireDryRun: true, maxRows: 100 };

const registry = (over: Partial<Registry> = {}): Registry => ({
  members: {
    root: { publicKey: pub('root'), roles: ['admin'] },
    alice: { publicKey: pub('alice'), roles: ['approver', 'owner'] },
    bob: { publicKey: pub('bob'), roles: ['approver'] },
    erin: { publicKey: pub('erin'), roles: ['author', 'operator'] },
  },
  policy: POLICY,
  admins: { threshold: 1 },
  ...over,
});

let tx = 100;
/** A stored event signed by `by` (its key, or `key` to forge), at the next commit point. */
function signed(
  streamId: string,
  version: number,
  type: string,
  data: unknown,
  by: (typeof names)[number],
  opts: { key?: KeyObject; governance?: number; schemaVersion?: number } = {},
): GovernanceStored & { streamId: string } {
  const eventId = randomUUID();
  const fields = {
    signer: by,
    key: keyFingerprint(publicKeyText(opts.key ?? keys[by])),
    governance: opts.governance ?? 1,
  };
  const schemaVersion = opts.schemaVersion ?? 1;
  const sig = sign(
    null,
    signedMessage({ streamId, version, eventId, type, schemaVersion, data, ...fields }),
    opts.key ?? keys[by],
  ).toString('base64');
  tx++;
  return {
    streamId,
    version,
    eventId,
    type,
    data,
    metadata: { schemaVersion, actor: by, signature: { ...fields, scheme: 'ed25519', sig } },
    transactionId: String(tx),
    globalPosition: String(tx),
  };
}

const genesisData = (r: Registry = registry()) => ({
  version: 1,
  registry: r,
  registryHash: registryHash(r),
  previous: null,
  at: '2026-11-30T10:00:00.000Z',
});
const genesis = (r: Registry = registry(), by: (typeof names)[number] = 'root') =>
  signed('governance', 1, 'GovernanceProposed', genesisData(r), by);
const rules = (vs: { rule: string }[]) => vs.map((v) => v.rule);

describe('the governance fold', () => {
  it('takes genesis signed by an admin it lists, and its hash is the trust root', () => {
    const g0 = genesis();
    const g = foldGovernance([g0], nodeCrypto, trustRoot(genesisData()));
    expect(g.violations).toEqual([]);
    expect(g.root).toBe(trustRoot(genesisData()));
    expect(g.versions.map((v) => v.version)).toEqual([1]);
  });

  it('refuses a genesis signed by a member who is not an admin', () => {
    const g = foldGovernance([genesis(registry(), 'erin')], nodeCrypto);
    expect(rules(g.violations)).toEqual(['role']);
    expect(g.root).toBeUndefined();
  });

  it('refuses a genesis that is not the pinned root, trusting nothing after it', () => {
    const g = foldGovernance([genesis()], nodeCrypto, 'f'.repeat(64));
    expect(rules(g.violations)).toEqual(['trust-root']);
    expect(g.versions).toEqual([]);
  });

  it('refuses a forged signature and a registry that does not hash to its recorded hash', () => {
    const forged = signed('governance', 1, 'GovernanceProposed', genesisData(), 'root', { key: keys.mallory });
    expect(rules(foldGovernance([forged], nodeCrypto).violations)).toEqual(['unknown-signer']);
    const d = { ...genesisData(), registryHash: 'a'.repeat(64) };
    expect(
      rules(foldGovernance([signed('governance', 1, 'GovernanceProposed', d, 'root')], nodeCrypto).violations),
    ).toEqual(['governance']);
  });

  it('makes a later version effective only once the threshold of the previous version signed it', () => {
    const two = registry({
      members: { ...registry().members, root2: { publicKey: pub('root2'), roles: ['admin'] } },
      admins: { threshold: 2 },
    });
    const v2 = signed(
      'governance',
      2,
      'GovernanceProposed',
      {
        version: 2,
        registry: two,
        registryHash: registryHash(two),
        previous: registryHash(registry()),
        at: '2026-11-30T11:00:00.000Z',
      },
      'root',
    );
    const g2 = foldGovernance([genesis(), v2], nodeCrypto);
    expect(g2.violations).toEqual([]);
    expect(g2.versions.map((v) => v.version)).toEqual([1, 2]); // threshold of v1 is 1

    const three = registry({
      members: two.members,
      policy: { ...POLICY, requiredApprovals: 3 },
      admins: { threshold: 2 },
    });
    const p3 = {
      version: 3,
      registry: three,
      registryHash: registryHash(three),
      previous: registryHash(two),
      at: '2026-11-30T12:00:00.000Z',
    };
    const v3 = signed('governance', 3, 'GovernanceProposed', p3, 'root', { governance: 2 });
    const again = signed(
      'governance',
      4,
      'GovernanceApproved',
      { version: 3, registryHash: p3.registryHash, at: p3.at },
      'root',
      { governance: 2 },
    );
    const byErin = signed(
      'governance',
      5,
      'GovernanceApproved',
      { version: 3, registryHash: p3.registryHash, at: p3.at },
      'erin',
      { governance: 2 },
    );
    const pending = foldGovernance([genesis(), v2, v3, again, byErin], nodeCrypto);
    expect(pending.versions.map((v) => v.version)).toEqual([1, 2]);
    expect(pending.pending?.signers.size).toBe(1);
    expect(rules(pending.violations)).toEqual(['role']);
    const byRoot2 = signed(
      'governance',
      6,
      'GovernanceApproved',
      { version: 3, registryHash: p3.registryHash, at: p3.at },
      'root2',
      { governance: 2 },
    );
    expect(
      foldGovernance([genesis(), v2, v3, again, byErin, byRoot2], nodeCrypto).versions.map((v) => v.version),
    ).toEqual([1, 2, 3]);
  });

  it('refuses one key enrolled twice, whatever its spelling (a flipped padding bit, the OpenSSH form)', () => {
    const bob = pub('bob');
    const raw = Buffer.from(bob.slice('ed25519:'.length), 'base64');
    const flipped = `ed25519:${bob.slice('ed25519:'.length, -2)}${String.fromCharCode(bob.charCodeAt(bob.length - 2) + 1)}=`;
    expect(Buffer.from(flipped.slice(8), 'base64').equals(raw)).toBe(true); // the same 32 bytes
    const len = (n: number) => Buffer.from([0, 0, 0, n]);
    const ssh = `ssh-ed25519 ${Buffer.concat([len(11), Buffer.from('ssh-ed25519'), len(32), raw]).toString('base64')} bob@laptop`;
    const twice = (key: string) =>
      Registry.safeParse(
        registry({ members: { ...registry().members, bob2: { publicKey: key, roles: ['approver'] } } }),
      );
    expect(twice(flipped).error?.issues.map((i) => i.message)).toContain(
      'not a valid Ed25519 public key in canonical base64',
    );
    expect(
      twice(ssh)
        .error?.issues.map((i) => i.message)
        .join(),
    ).toContain('the same key as member bob');
  });

  it('refuses a proposal that does not extend the version in force', () => {
    const r = registry({ admins: { threshold: 1 } });
    const bad = signed(
      'governance',
      2,
      'GovernanceProposed',
      {
        version: 3,
        registry: r,
        registryHash: registryHash(r),
        previous: registryHash(registry()),
        at: '2026-11-30T11:00:00.000Z',
      },
      'root',
    );
    expect(rules(foldGovernance([genesis(), bad], nodeCrypto).violations)).toEqual(['governance']);
  });
});

describe('per-event authority', () => {
  const gov = foldGovernance([genesis()], nodeCrypto);

  it('accepts an event signed by a member holding its role', () => {
    expect(checkEventTrust(signed('cut-c1', 1, 'CutPlanned', { x: 1 }, 'erin'), gov, nodeCrypto).violations).toEqual(
      [],
    );
  });

  it('names an unsigned event, an unknown signer, a wrong role, a future governance version', () => {
    const unsigned = { streamId: 'cut-c1', version: 1, type: 'CutPlanned', data: {}, metadata: {} };
    expect(rules(checkEventTrust(unsigned, gov, nodeCrypto).violations)).toEqual(['unsigned']);
    expect(
      rules(checkEventTrust(signed('cut-c1', 1, 'CutPlanned', {}, 'mallory'), gov, nodeCrypto).violations),
    ).toEqual(['unknown-signer']);
    expect(rules(checkEventTrust(signed('cut-c1', 1, 'CutPlanned', {}, 'alice'), gov, nodeCrypto).violations)).toEqual([
      'role',
    ]);
    expect(
      rules(
        checkEventTrust(signed('cut-c1', 1, 'LiveRunStarted', {}, 'erin', { governance: 2 }), gov, nodeCrypto)
          .violations,
      ),
    ).toEqual(['governance']);
  });

  it('never takes an inherited property for a member (signer "constructor", "__proto__")', () => {
    for (const signer of ['constructor', '__proto__', 'toString']) {
      const e = signed('cut-c1', 1, 'CutPlanned', {}, 'mallory');
      (e.metadata!.signature as { signer: string }).signer = signer;
      expect(rules(checkEventTrust(e, gov, nodeCrypto).violations)).toEqual(['unknown-signer']);
    }
  });

  it('names an event signed under an older version than the one in force when it was committed', () => {
    const v2reg = registry({ policy: { ...POLICY, roles: ['owner'] } });
    const v2 = signed(
      'governance',
      2,
      'GovernanceProposed',
      {
        version: 2,
        registry: v2reg,
        registryHash: registryHash(v2reg),
        previous: registryHash(registry()),
        at: '2026-11-30T11:00:00.000Z',
      },
      'root',
    );
    const g = foldGovernance([genesis(), v2], nodeCrypto);
    expect(
      rules(
        checkEventTrust(signed('cut-c1', 1, 'CutPlanned', {}, 'erin', { governance: 1 }), g, nodeCrypto).violations,
      ),
    ).toEqual(['governance']);
    expect(
      checkEventTrust(signed('cut-c1', 1, 'CutPlanned', {}, 'erin', { governance: 2 }), g, nodeCrypto).violations,
    ).toEqual([]);
  });

  it('names a signature moved to another stream or position', () => {
    const e = signed('cut-c1', 1, 'CutPlanned', { x: 1 }, 'erin');
    expect(rules(checkEventTrust({ ...e, streamId: 'cut-c2' }, gov, nodeCrypto).violations)).toEqual(['signature']);
    expect(rules(checkEventTrust({ ...e, version: 2 }, gov, nodeCrypto).violations)).toEqual(['signature']);
    expect(rules(checkEventTrust({ ...e, data: { x: 2 } }, gov, nodeCrypto).violations)).toEqual(['signature']);
  });

  it('names an event signed under an old version after the signer was removed', () => {
    const without = registry({
      members: { root: registry().members.root!, alice: registry().members.alice!, bob: registry().members.bob! },
    });
    const v2 = signed(
      'governance',
      2,
      'GovernanceProposed',
      {
        version: 2,
        registry: without,
        registryHash: registryHash(without),
        previous: registryHash(registry()),
        at: '2026-11-30T11:00:00.000Z',
      },
      'root',
    );
    const g = foldGovernance([genesis(), v2], nodeCrypto);
    const late = signed('cut-c1', 1, 'CutPlanned', {}, 'erin', { governance: 1 });
    expect(rules(checkEventTrust(late, g, nodeCrypto).violations)).toEqual(['revoked']);
  });

  it('checks the kill-switch stream: any member engages, only an admin releases, never twice', () => {
    const ks = [
      signed('killswitch', 1, 'KillSwitchEngaged', { reason: 'r', at: '2026-11-30T10:00:00.000Z' }, 'alice'),
      signed('killswitch', 2, 'KillSwitchEngaged', { reason: 'r', at: '2026-11-30T10:00:00.000Z' }, 'alice'),
      signed('killswitch', 3, 'KillSwitchReleased', { at: '2026-11-30T10:00:00.000Z' }, 'erin'),
    ];
    const r = checkKillSwitchStream(ks, gov, nodeCrypto);
    expect(rules(r.violations)).toEqual(['killswitch', 'role']);
    expect(r.timeline.engagedAt).toEqual([false, true, true, false]);
  });
});

describe('a cut against governance', () => {
  const gov = foldGovernance([genesis()], nodeCrypto);
  const cutPlanned = (policy = POLICY, by: (typeof names)[number] = 'erin') =>
    signed('cut-c1', 1, 'CutPlanned', { ...(planned().data as object), author: by, authorKey: pub(by), policy }, by);
  const approvalBy = (
    who: (typeof names)[number],
    version: number,
    opts: { signer?: (typeof names)[number]; roles?: string[]; keyOf?: (typeof names)[number] } = {},
  ) => {
    const p = {
      cutId: 'c1',
      planHash: HASH,
      decision: 'approve' as const,
      at: '2026-11-30T10:05:00.000Z',
      approver: who,
      roles: opts.roles ?? ['approver'],
      governanceVersion: 1,
    };
    const k = keys[opts.keyOf ?? who];
    const data = {
      ...p,
      signature: sign(null, Buffer.from(approvalPayload(p)), k).toString('base64'),
      publicKey: publicKeyText(k),
    };
    return signed('cut-c1', version, 'ApprovalGranted', data, opts.signer ?? who, {
      schemaVersion: 2,
      ...(opts.keyOf ? { key: k } : {}),
    });
  };
  const none = { engagedAt: [false], points: [undefined] };

  it('is clean when signed by the enrolled members under governance policy', () => {
    expect(checkCutTrust([cutPlanned(), approvalBy('alice', 2), approvalBy('bob', 3)], gov, nodeCrypto, none)).toEqual(
      [],
    );
  });

  it("names a cut whose policy is not governance's, and an approval by the author's key", () => {
    expect(rules(checkCutTrust([cutPlanned({ ...POLICY, requiredApprovals: 1 })], gov, nodeCrypto, none))).toEqual([
      'policy',
    ]);
    const byAuthorKey = approvalBy('alice', 2, { keyOf: 'erin', signer: 'erin' });
    expect(rules(checkCutTrust([cutPlanned(), byAuthorKey], gov, nodeCrypto, none))).toEqual(
      expect.arrayContaining(['role', 'approval', 'four-eyes']),
    );
  });

  it('names lock evidence that says released where the kill-switch stream says engaged', () => {
    const ks = checkKillSwitchStream(
      [signed('killswitch', 1, 'KillSwitchEngaged', { reason: 'r', at: '2026-11-30T10:00:00.000Z' }, 'alice')],
      gov,
      nodeCrypto,
    ).timeline;
    const start = signed(
      'cut-c1',
      4,
      'LiveRunStarted',
      {
        runId: 'r1',
        planHash: HASH,
        at: '2026-11-30T10:06:00.000Z',
        executor: 'postgres-table',
        evidence: {
          at: '2026-11-30T10:06:00.000Z',
          locks: { config: true, env: true, killSwitch: true, killSwitchVersion: 1 },
          approvals: ['alice', 'bob'],
        },
      },
      'erin',
    );
    const v = checkCutTrust([cutPlanned(), approvalBy('alice', 2), approvalBy('bob', 3), start], gov, nodeCrypto, ks);
    expect(rules(v)).toEqual(['lock-evidence']);
  });

  it('names approvals carrying another key, claiming roles not enrolled, or signed by the author key', () => {
    const forged = approvalBy('alice', 2, { keyOf: 'mallory' });
    expect(rules(checkCutTrust([forged], gov, nodeCrypto, none))).toContain('unknown-signer');
    const roles = approvalBy('bob', 2, { roles: ['approver', 'owner'] });
    expect(rules(checkCutTrust([roles], gov, nodeCrypto, none))).toEqual(['approval']);
  });
});

describe('four-eyes counts keys', () => {
  const ctx = {
    cutId: 'c1',
    planHash: 'a'.repeat(64),
    author: 'erin',
    authorKey: pub('erin'),
    policy: { ...POLICY, requiredApprovals: 2 },
  };
  const rec = (approver: string, key: (typeof names)[number]) => {
    const p = {
      cutId: 'c1',
      planHash: 'a'.repeat(64),
      decision: 'approve' as const,
      at: '2026-11-30T10:05:00.000Z',
      approver,
      roles: ['approver'],
      governanceVersion: 1,
    };
    return {
      ...p,
      signature: sign(null, Buffer.from(approvalPayload(p)), keys[key]).toString('base64'),
      publicKey: pub(key),
    };
  };

  it('counts one key once, whatever names it signs under', () => {
    const v = evaluateApprovals([rec('alice', 'alice'), rec('bob', 'alice')], ctx);
    expect(v.counted).toEqual(['alice']);
    expect(v.ok).toBe(false);
  });

  it('never counts the author key under another name', () => {
    const v = evaluateApprovals([rec('alice', 'erin'), rec('bob', 'bob')], ctx);
    expect(v.reasons).toContain("approval by alice: signed with the author's key (four-eyes counts keys)");
    expect(v.ok).toBe(false);
  });
});
