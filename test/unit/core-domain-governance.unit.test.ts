/**
 * The governance fold and the signature envelope (src/domain/governance.ts): each rule named on the
 * stream that breaks it, the honest stream clean; which version is in force at a commit point.
 */
import { describe, expect, it } from 'vitest';
import { trustRoot, type Registry } from '../../events/governance.js';
import { signedMessage } from '../../events/signature.js';
import {
  checkSignature,
  current,
  emptyGovernance,
  foldGovernance,
  holdsRole,
  versionInForceAt,
  versionOf,
  type GovernanceState,
  type GovernanceVersion,
} from '../../src/domain/governance.js';
import { nodeCrypto } from '../../src/governance/authority.js';
import {
  approvalOf,
  fp,
  genesis,
  genesisData,
  keys,
  proposal,
  pub,
  registry,
  signed,
  T,
} from '../support/core-domain-signed.js';

const rules = (g: GovernanceState) => g.violations.map((v) => `${v.version}:${v.rule}`);
const messages = (g: GovernanceState) => g.violations.map((v) => v.message);
const fold = (events: Parameters<typeof foldGovernance>[0], pin?: string) => foldGovernance(events, nodeCrypto, pin);
const two = registry({
  members: { ...registry().members, root2: { publicKey: pub('root2'), roles: ['admin'] } },
  admins: { threshold: 2 },
});
const three = registry({
  members: two.members,
  policy: { ...registry().policy, requiredApprovals: 3 },
  admins: { threshold: 2 },
});

describe('versions and commit points', () => {
  const v = (version: number, effectiveAt?: { transactionId: string; globalPosition: string }): GovernanceVersion => ({
    version,
    registry: registry(),
    registryHash: 'h',
    effectiveAt,
  });
  const g: GovernanceState = {
    ...emptyGovernance(),
    versions: [
      v(1, { transactionId: '9', globalPosition: '5' }),
      v(2, { transactionId: '10', globalPosition: '20' }),
      v(3, { transactionId: '10', globalPosition: '30' }),
    ],
  };

  it('finds a version by its number, never by 0, a negative or a fraction', () => {
    expect(versionOf(g, 1)?.version).toBe(1);
    expect(versionOf(g, 3)?.version).toBe(3);
    for (const n of [0, -1, 1.5, 4, Number.NaN]) expect(versionOf(g, n), String(n)).toBeUndefined();
    expect(current(g)?.version).toBe(3);
    expect(current(emptyGovernance())).toBeUndefined();
    expect(emptyGovernance()).toEqual({ versions: [], violations: [], streamVersion: 0 });
  });

  it('puts in force the last version effective strictly before the point, comparing ids as numbers', () => {
    expect(versionInForceAt(g, { transactionId: '8', globalPosition: '100' })).toBe(0);
    expect(versionInForceAt(g, { transactionId: '9', globalPosition: '5' })).toBe(0); // its own point: not yet
    expect(versionInForceAt(g, { transactionId: '9', globalPosition: '6' })).toBe(1);
    expect(versionInForceAt(g, { transactionId: '10', globalPosition: '4' })).toBe(1); // 10 > 9 as numbers, "10" < "9" as text
    expect(versionInForceAt(g, { transactionId: '10', globalPosition: '20' })).toBe(1);
    expect(versionInForceAt(g, { transactionId: '10', globalPosition: '21' })).toBe(2);
    expect(versionInForceAt(g, { transactionId: '10', globalPosition: '31' })).toBe(3);
    expect(versionInForceAt(g, { transactionId: '11', globalPosition: '1' })).toBe(3);
    expect(versionInForceAt(emptyGovernance(), { transactionId: '1', globalPosition: '1' })).toBe(0);
    // A version with no recorded point (folded from events without one) is in force everywhere.
    expect(
      versionInForceAt(
        { ...emptyGovernance(), versions: [v(1), v(2, { transactionId: '50', globalPosition: '50' })] },
        { transactionId: '1', globalPosition: '1' },
      ),
    ).toBe(1);
  });

  it('holds a role when the member has any of the roles asked', () => {
    expect(holdsRole({ publicKey: pub('alice'), roles: ['approver', 'owner'] }, ['owner'])).toBe(true);
    expect(holdsRole({ publicKey: pub('alice'), roles: ['approver', 'owner'] }, ['admin', 'approver'])).toBe(true);
    expect(holdsRole({ publicKey: pub('alice'), roles: ['approver'] }, ['admin', 'operator'])).toBe(false);
    expect(holdsRole({ publicKey: pub('alice'), roles: ['approver'] }, [])).toBe(false);
    expect(holdsRole(undefined, ['approver'])).toBe(false);
  });
});

describe('the signature envelope', () => {
  const r = registry();
  const e = signed('cut-c1', 1, 'CutPlanned', { x: 1 }, 'erin');
  const check = (ev: typeof e, reg: Registry | undefined = r) => checkSignature(ev, reg, nodeCrypto);

  it('is valid when a member signed the event with the enrolled key', () => {
    expect(check(e)).toBeUndefined();
    expect(check(signed('cut-c1', 1, 'CutPlanned', { x: 1 }, 'erin', { actor: null }))).toBeUndefined(); // no recorded actor
    expect(check(signed('cut-c1', 1, 'CutPlanned', { x: 1 }, 'erin', { eventId: null }))).toBeUndefined(); // no event id: signed as ''
  });

  it('names a missing or malformed signature', () => {
    expect(check({ ...e, metadata: {} })).toEqual({
      rule: 'unsigned',
      message: 'CutPlanned carries no valid signature',
    });
    expect(check({ ...e, metadata: null })?.rule).toBe('unsigned');
    const { metadata: _m, ...noMeta } = e;
    expect(check(noMeta)?.rule).toBe('unsigned');
    expect(
      check({ ...e, metadata: { ...e.metadata, signature: { ...(e.metadata!.signature as object), governance: 0 } } })
        ?.rule,
    ).toBe('unsigned');
  });

  it('names a governance version that is not in force', () => {
    expect(checkSignature(e, undefined, nodeCrypto)).toEqual({
      rule: 'governance',
      message: 'signed under governance version 1, which is not in force',
    });
  });

  it('names a signer who is not a member, or signed with another key', () => {
    expect(check(signed('cut-c1', 1, 'CutPlanned', {}, 'mallory'))).toEqual({
      rule: 'unknown-signer',
      message: 'signed by mallory, not a member at governance version 1',
    });
    const forged = signed('cut-c1', 1, 'CutPlanned', {}, 'erin', { key: keys.mallory });
    expect(check(forged)).toEqual({
      rule: 'unknown-signer',
      message: `signed by erin with key ${fp('mallory')}, not the key enrolled for erin`,
    });
  });

  it('names a signature that does not cover this event', () => {
    expect(check({ ...e, data: { x: 2 } })).toEqual({
      rule: 'signature',
      message: 'the signature by erin does not verify over this event',
    });
    expect(check({ ...e, eventId: 'another' })?.rule).toBe('signature');
    expect(check({ ...e, type: 'CutAborted' })?.rule).toBe('signature');
    expect(check({ ...e, metadata: { ...e.metadata, schemaVersion: 2 } })?.rule).toBe('signature');
  });

  it('reads an absent schema version as 1', () => {
    const { schemaVersion: _s, ...meta } = e.metadata!;
    expect(check({ ...e, metadata: meta })).toBeUndefined();
    const v2 = signed('cut-c1', 1, 'CutPlanned', { x: 1 }, 'erin', { schemaVersion: 2 });
    const { schemaVersion: _t, ...meta2 } = v2.metadata!;
    expect(check({ ...v2, metadata: meta2 })?.rule).toBe('signature');
  });

  it('names a recorded actor who is not the signer', () => {
    expect(check(signed('cut-c1', 1, 'CutPlanned', { x: 1 }, 'erin', { actor: 'alice' }))).toEqual({
      rule: 'signature',
      message: 'recorded actor alice is not the signer erin',
    });
  });

  it('binds the signature to the exact message fields', () => {
    // A signature made over the message without the governance field does not verify.
    const s = e.metadata!.signature as { signer: string; key: string; governance: number };
    const msg = signedMessage({
      streamId: 'cut-c1',
      version: 1,
      eventId: e.eventId!,
      type: 'CutPlanned',
      schemaVersion: 1,
      data: { x: 1 },
      signer: s.signer,
      key: s.key,
      governance: s.governance,
    });
    expect(nodeCrypto.verify(pub('erin'), msg, (e.metadata!.signature as { sig: string }).sig)).toBe(true);
  });
});

describe('the governance fold', () => {
  it('takes genesis: root, version 1, effective at its commit point', () => {
    const g0 = genesis();
    const g = fold([g0], trustRoot(genesisData()));
    expect(g.violations).toEqual([]);
    expect(g.root).toBe(trustRoot(genesisData()));
    expect(g.versions).toEqual([
      {
        version: 1,
        registry: registry(),
        registryHash: genesisData().registryHash,
        effectiveAt: { transactionId: g0.transactionId, globalPosition: g0.globalPosition },
      },
    ]);
    expect(g.streamVersion).toBe(1);
    expect(g.pending).toBeUndefined();
  });

  it('has no commit point for a version recorded without one', () => {
    expect(fold([genesis(registry(), 'root', { point: null })]).versions[0]!.effectiveAt).toBeUndefined();
    const half = genesis();
    delete half.globalPosition;
    expect(fold([half]).versions[0]!.effectiveAt).toBeUndefined();
  });

  it('names an event that is not a governance event, and goes on', () => {
    const g = fold([
      signed('governance', 1, 'Mystery', {}, 'root'),
      signed('governance', 2, 'GovernanceProposed', genesisData(), 'root'),
    ]);
    expect(g.versions.map((v) => v.version)).toEqual([1]);
    expect(rules(g)).toEqual(['1:governance']);
    expect(messages(g)[0]).toMatch(/^not a governance event: /);
    expect(g.streamVersion).toBe(2);
    const bad = fold([
      signed(
        'governance',
        1,
        'GovernanceProposed',
        { version: 'x', registry: 1, registryHash: 2, previous: 3, at: 4 },
        'root',
      ),
    ]);
    const issues = messages(bad)[0]!.slice('not a governance event: '.length).split('; ');
    expect(issues).toHaveLength(2); // at most two issues
    expect(issues[0]).toMatch(/^data\.version: \S/);
    expect(issues[1]).toMatch(/^data\.registry: \S/);
  });

  it('places a violation on its stream (governance when unnamed), version, event id and type', () => {
    const e = signed('governance', 1, 'Mystery', {}, 'root', { eventId: 'ev-1' });
    expect(fold([e]).violations[0]).toMatchObject({
      streamId: 'governance',
      version: 1,
      eventId: 'ev-1',
      type: 'Mystery',
      rule: 'governance',
    });
    const { streamId: _s, eventId: _e, ...bare } = e;
    const v = fold([bare]).violations[0]!;
    expect(v.streamId).toBe('governance');
    expect(Object.keys(v)).not.toContain('eventId');
    expect(fold([{ ...e, streamId: 'gov-copy' }]).violations[0]!.streamId).toBe('gov-copy');
  });

  it('names a registry that does not hash to its recorded hash', () => {
    const g = fold([
      signed('governance', 1, 'GovernanceProposed', { ...genesisData(), registryHash: 'a'.repeat(64) }, 'root'),
    ]);
    expect(messages(g)).toEqual(['version 1: the registry does not hash to the recorded registry hash']);
    expect(g.versions).toEqual([]);
  });

  it('names a first event that is not genesis', () => {
    const asV2 = signed('governance', 1, 'GovernanceProposed', { ...genesisData(), version: 2 }, 'root');
    expect(messages(fold([asV2]))).toEqual(['the first governance event must be genesis (version 1), found version 2']);
    const withPrevious = signed(
      'governance',
      1,
      'GovernanceProposed',
      { ...genesisData(), previous: 'b'.repeat(64) },
      'root',
    );
    expect(rules(fold([withPrevious]))).toEqual(['1:governance']);
    expect(fold([withPrevious]).versions).toEqual([]);
    expect(rules(fold([approvalOf(1, 2, two, 'root')]))).toEqual(['1:governance']); // an approval before genesis
  });

  it('stops at a genesis that is not the pinned root', () => {
    const g = fold([genesis(), proposal(2, 2, two, registry())], 'f'.repeat(64));
    expect(rules(g)).toEqual(['1:trust-root']);
    expect(messages(g)).toEqual([
      `genesis hashes to ${trustRoot(genesisData())}, the pinned trust root is ${'f'.repeat(64)}`,
    ]);
    expect(g.versions).toEqual([]);
    expect(g.root).toBeUndefined();
    expect(g.streamVersion).toBe(1);
  });

  it('names a genesis signed under another version, unsigned, or by a non-admin', () => {
    expect(messages(fold([genesis(registry(), 'root', { governance: 2 })]))).toEqual([
      'signed under governance version 2; this event must be checked under version 1',
    ]);
    expect(rules(fold([genesis(registry(), 'root', { governance: 2 })]))).toEqual(['1:governance']);
    expect(rules(fold([{ ...genesis(), metadata: {} }]))).toEqual(['1:unsigned']);
    const { metadata: _m, ...noMetadata } = genesis();
    expect(rules(fold([noMetadata]))).toEqual(['1:unsigned']);
    expect(messages(fold([genesis(registry(), 'erin')]))).toEqual(['erin is not an admin at governance version 1']);
    expect(fold([genesis(registry(), 'erin')]).versions).toEqual([]);
  });

  it('makes a proposal effective at once when the threshold is one', () => {
    const p = proposal(2, 2, two, registry());
    const g = fold([genesis(), p]);
    expect(g.violations).toEqual([]);
    expect(g.versions.map((v) => [v.version, v.effectiveAt?.transactionId])).toEqual([
      [1, expect.any(String)],
      [2, p.transactionId],
    ]);
    expect(g.versions[1]!.registry).toEqual(two);
    expect(g.pending).toBeUndefined();
  });

  it('keeps a proposal pending until threshold distinct admin keys signed, then makes it effective there', () => {
    const base = [genesis(), proposal(2, 2, two, registry())];
    const p3 = proposal(3, 3, three, two);
    const pending = fold([...base, p3]);
    expect(pending.versions.map((v) => v.version)).toEqual([1, 2]);
    expect(pending.pending).toMatchObject({ version: 3, proposer: 'root', registry: three });
    expect([...pending.pending!.signers]).toEqual([fp('root')]);
    const again = approvalOf(4, 3, three, 'root');
    expect(fold([...base, p3, again]).pending!.signers.size).toBe(1); // the proposer again counts once
    const done = approvalOf(5, 3, three, 'root2');
    const g = fold([...base, p3, again, done]);
    expect(g.violations).toEqual([]);
    expect(g.versions.map((v) => v.version)).toEqual([1, 2, 3]);
    expect(g.versions[2]!.effectiveAt).toEqual({
      transactionId: done.transactionId,
      globalPosition: done.globalPosition,
    });
    expect(g.pending).toBeUndefined();
    expect(g.streamVersion).toBe(5);
  });

  it('checks each approval against the latest version in force, however many there are', () => {
    const four = registry({
      members: three.members,
      policy: { ...registry().policy, requiredApprovals: 1 },
      admins: { threshold: 2 },
    });
    const events = [
      genesis(),
      proposal(2, 2, two, registry()),
      proposal(3, 3, three, two),
      approvalOf(4, 3, three, 'root2'),
      proposal(5, 4, four, three),
      approvalOf(6, 4, four, 'root2'),
    ];
    const g = fold(events);
    expect(g.violations).toEqual([]);
    expect(g.versions.map((v) => v.version)).toEqual([1, 2, 3, 4]);
  });

  it('names an approval that matches no pending proposal', () => {
    const base = [genesis(), proposal(2, 2, two, registry()), proposal(3, 3, three, two)];
    const wrongVersion = signed(
      'governance',
      4,
      'GovernanceApproved',
      { version: 4, registryHash: genesisData(three).registryHash, at: T },
      'root2',
      { governance: 2 },
    );
    expect(messages(fold([...base, wrongVersion]))).toEqual(['approval of version 4 matches no pending proposal']);
    const wrongHash = approvalOf(4, 3, two, 'root2');
    expect(rules(fold([...base, wrongHash]))).toEqual(['4:governance']);
    expect(fold([...base, wrongHash]).versions.map((v) => v.version)).toEqual([1, 2]);
    expect(rules(fold([genesis(), approvalOf(2, 2, two, 'root')]))).toEqual(['2:governance']); // nothing pending
  });

  it('names an approval by a non-admin or under the wrong version, and does not count it', () => {
    const base = [genesis(), proposal(2, 2, two, registry()), proposal(3, 3, three, two)];
    const byErin = approvalOf(4, 3, three, 'erin');
    expect(messages(fold([...base, byErin]))).toEqual(['erin is not an admin at governance version 2']);
    const oldVersion = approvalOf(4, 3, three, 'root2', { governance: 1 });
    expect(messages(fold([...base, oldVersion]))).toEqual([
      'signed under governance version 1; this event must be checked under version 2',
    ]);
    expect(fold([...base, byErin, oldVersion]).versions.map((v) => v.version)).toEqual([1, 2]);
  });

  it('names a proposal that does not extend the version in force, or by a non-admin', () => {
    expect(messages(fold([genesis(), proposal(2, 3, two, registry())]))).toEqual([
      'proposal of version 3 does not extend version 1',
    ]);
    expect(rules(fold([genesis(), proposal(2, 2, two, two)]))).toEqual(['2:governance']); // previous is not version 1's hash
    const byErin = fold([genesis(), proposal(2, 2, two, registry(), 'erin')]);
    expect(rules(byErin)).toEqual(['2:role']);
    expect(byErin.pending).toBeUndefined();
    expect(byErin.versions).toHaveLength(1);
  });
});
