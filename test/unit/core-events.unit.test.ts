/**
 * The event schemas and their helpers (events/), as a reader of the log depends on them: every
 * event type and field shape accepted when well formed and refused — naming the path — when not;
 * the upcaster chain; the canonical hashes pinned to fixed values (a change to any of them would
 * silently break every recorded hash chain and signature); the exact bytes an event signature covers.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  ApprovalGrantedV1,
  canonicalJson,
  Change,
  changeCount,
  ChangeSet,
  CHECKPOINT_STREAM,
  CheckpointFile,
  CheckpointRecorded,
  CutPlan,
  CutPlanInput,
  DomainEvent,
  EventSignature,
  GOVERNANCE_STREAM,
  GovernanceApproved,
  GovernanceEvent,
  GovernanceProposed,
  Hash,
  hashOf,
  headsRoot,
  Id,
  Iso,
  KillSwitchEvent,
  LiveEvidence,
  LiveExecutor,
  LockEvidence,
  Member,
  MemberName,
  memberOf,
  parseStored,
  Phase,
  planHash,
  Policy,
  PublicKeyText,
  rawKeyOf,
  Registry,
  registryHash,
  ROLES,
  SCHEMA_VERSIONS,
  sha256,
  SignatureScheme,
  signedMessage,
  SimExecutor,
  SSHSIG_NAMESPACE,
  StreamHead,
  toStorable,
  trustRoot,
  upcast,
  type DomainEvent as DomainEventT,
} from '../../events/index.js';
import { RecordedPlan } from '../../events/cut-events.js';
import { publicKeyText } from '../../src/crypto/approvals.js';
import {
  approval,
  at,
  dryRun,
  fullLive,
  halted,
  HASH,
  OPEN,
  phaseEvents,
  plan,
  planned,
  resumed,
  reverted,
  revertStart,
} from '../support/cut-events.js';

const H = (c: string) => c.repeat(64);
/** The paths (dotted) of the issues a schema reports for `value`; [] when it accepts it. */
const paths = (schema: z.ZodType, value: unknown): string[] => {
  const r = schema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
};
const messages = (schema: z.ZodType, value: unknown): string[] => {
  const r = schema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => i.message);
};
const ok = (schema: z.ZodType, value: unknown) => expect(paths(schema, value)).toEqual([]);

/** An `ssh-ed25519 AAAA…` line for a raw 32-byte key (the OpenSSH wire blob, base64). */
const sshLine = (raw: Buffer, comment = '') => {
  const blob = Buffer.alloc(4 + 11 + 4 + 32);
  blob.writeUInt32BE(11, 0);
  blob.write('ssh-ed25519', 4, 'latin1');
  blob.writeUInt32BE(32, 15);
  raw.copy(blob, 19);
  return `ssh-ed25519 ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
};
const newKey = () => publicKeyText(generateKeyPairSync('ed25519').publicKey);
const rawOf = (text: string) => Buffer.from(text.slice('ed25519:'.length), 'base64');

describe('canonical JSON and hashes', () => {
  it('writes keys sorted at every depth, with no whitespace, whatever the insertion order', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 'x', c: null }], é: true })).toBe(
      '{"a":[2,{"c":null,"d":"x"}],"b":1,"é":true}',
    );
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
  });

  it('refuses a value JSON cannot represent, naming why', () => {
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
    expect(() => canonicalJson(undefined)).toThrow('canonicalJson: value has no JSON representation');
  });

  it('hashes to fixed, lower-case hex SHA-256 values (strings and bytes alike)', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256(Buffer.from('abc'))).toBe(sha256('abc'));
    expect(sha256('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hashOf({ b: 2, a: 1 })).toBe(sha256('{"a":1,"b":2}'));
    expect(hashOf([])).toBe('4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945');
  });

  it('gives the plan of the shared fixture the same hash as ever (a changed hash breaks every recorded chain)', () => {
    expect(planHash(plan)).toBe(hashOf(plan));
    expect(planHash(plan)).toBe(
      sha256(
        '{"author":"erin","changes":[{"upsert":{"body":"b","id":"A","title":"t"}}],"id":"c1","reason":"r","target":"kb"}',
      ),
    );
    expect(planHash({ ...plan, reason: 'other' })).not.toBe(planHash(plan));
  });
});

describe('shared field shapes', () => {
  it('times are ISO-8601 with a zone', () => {
    ok(Iso, '2026-11-25T10:00:00.000Z');
    ok(Iso, '2026-11-25T10:00:00+02:00');
    expect(paths(Iso, '2026-11-25 10:00')).toEqual(['']);
    expect(paths(Iso, 1_700_000_000)).toEqual(['']);
  });

  it('hashes are exactly 64 lower-case hex digits', () => {
    ok(Hash, H('0'));
    ok(Hash, '0123456789abcdef'.repeat(4));
    for (const bad of [
      H('A'),
      H('g'),
      'a'.repeat(63),
      'a'.repeat(65),
      ` ${'a'.repeat(63)}`,
      `${'a'.repeat(63)}\n`,
      '',
    ]) {
      expect(messages(Hash, bad), JSON.stringify(bad)).toEqual(['a SHA-256 hex digest']);
    }
  });

  it('ids are 1 to 200 characters', () => {
    ok(Id, 'x');
    ok(Id, 'x'.repeat(200));
    expect(paths(Id, '')).toEqual(['']);
    expect(paths(Id, 'x'.repeat(201))).toEqual(['']);
  });

  it('names the five phases in order, and the two executors', () => {
    expect(Phase.options).toEqual(['backup', 'legA', 'legB', 'verify', 'enact']);
    ok(LiveExecutor, 'postgres-table');
    ok(SimExecutor, 'simulator');
    expect(paths(LiveExecutor, 'simulator')).toEqual(['']);
    expect(paths(SimExecutor, 'postgres-table')).toEqual(['']);
  });

  it('lock evidence: three booleans and a non-negative kill-switch version, nothing else', () => {
    ok(LockEvidence, OPEN);
    ok(LockEvidence, { ...OPEN, killSwitchVersion: 7 });
    expect(paths(LockEvidence, { ...OPEN, killSwitchVersion: -1 })).toEqual(['killSwitchVersion']);
    expect(paths(LockEvidence, { ...OPEN, killSwitchVersion: 1.5 })).toEqual(['killSwitchVersion']);
    expect(paths(LockEvidence, { ...OPEN, env: 'yes' })).toEqual(['env']);
    expect(paths(LockEvidence, { ...OPEN, extra: 1 })).toEqual(['']);
  });

  it('live evidence: time, locks and approvers; governance version (>= 1) and dry run optional', () => {
    const e = { at: at(1), locks: OPEN, approvals: ['alice', 'bob'] };
    ok(LiveEvidence, e);
    ok(LiveEvidence, { ...e, governance: 1, dryRunId: 'd1' });
    ok(LiveEvidence, { ...e, governance: 9 });
    expect(paths(LiveEvidence, { ...e, governance: 0 })).toEqual(['governance']);
    expect(paths(LiveEvidence, { ...e, approvals: [1] })).toEqual(['approvals.0']);
    expect(paths(LiveEvidence, { ...e, locks: { ...OPEN, config: 1 } })).toEqual(['locks.config']);
    expect(paths(LiveEvidence, { ...e, at: 'now' })).toEqual(['at']);
  });

  it('policy: at least one approval, positive TTL and row limit, optional roles', () => {
    const p = { requiredApprovals: 1, approvalTtlSeconds: 1, requireDryRun: false, maxRows: 1 };
    ok(Policy, p);
    ok(Policy, { ...p, requiredApprovals: 3, approvalTtlSeconds: 3600, maxRows: 100_000, roles: ['dba'] });
    expect(paths(Policy, { ...p, requiredApprovals: 0 })).toEqual(['requiredApprovals']);
    expect(paths(Policy, { ...p, approvalTtlSeconds: 0 })).toEqual(['approvalTtlSeconds']);
    expect(paths(Policy, { ...p, maxRows: 0 })).toEqual(['maxRows']);
    expect(paths(Policy, { ...p, roles: [3] })).toEqual(['roles.0']);
    expect(paths(Policy, { ...p, requireDryRun: undefined })).toEqual(['requireDryRun']);
  });
});

describe('the plan', () => {
  const input = { target: 'kb', reason: 'fix', changes: [{ upsert: { id: 'A' } }, { delete: { id: 'B' } }] };

  it('takes changes inline or from a file, exactly one of them', () => {
    ok(CutPlanInput, input);
    ok(CutPlanInput, { id: 'c-1.x_Y', author: 'erin', target: 'kb', reason: 'fix', changesFile: 'changes.ndjson' });
    const both = CutPlanInput.safeParse({ ...input, changesFile: 'f' });
    expect(both.success).toBe(false);
    expect(both.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['changes', 'give exactly one of changes and changesFile'],
    ]);
    expect(paths(CutPlanInput, { target: 'kb', reason: 'fix' })).toEqual(['changes']);
    expect(both.error?.issues[0]?.code).toBe('custom');
  });

  it('refuses a bad id, an empty field or an empty list, naming the field', () => {
    ok(CutPlanInput, { ...input, id: 'a'.repeat(128) });
    expect(messages(CutPlanInput, { ...input, id: 'a'.repeat(129) })).toEqual([
      'letters, digits, ".", "_" or "-", at most 128',
    ]);
    for (const id of ['-a', '.a', 'a b', 'a/b', '', 'a\n'])
      expect(paths(CutPlanInput, { ...input, id }), id).toEqual(['id']);
    expect(paths(CutPlanInput, { ...input, target: '' })).toEqual(['target']);
    expect(paths(CutPlanInput, { ...input, reason: '' })).toEqual(['reason']);
    expect(paths(CutPlanInput, { ...input, author: '' })).toEqual(['author']);
    expect(paths(CutPlanInput, { ...input, changesFile: undefined, changes: undefined, changesFile2: 'x' })).toContain(
      '',
    );
    expect(paths(CutPlanInput, { target: 'kb', reason: 'fix', changesFile: '' })).toEqual(['changesFile']);
    expect(paths(CutPlanInput, { ...input, changes: [] })).toEqual(['changes']);
  });

  it('a change is an upsert or a delete of named column values, any JSON value', () => {
    ok(Change, { upsert: { id: 1, doc: { nested: [1, 'two', null, { x: true }] } } });
    ok(Change, { delete: { id: 'A' } });
    expect(paths(Change, { upsert: { id: 'A' }, delete: { id: 'A' } })).not.toEqual([]);
    expect(paths(Change, { upsert: { '': 1 } })).not.toEqual([]);
    expect(paths(Change, { update: { id: 'A' } })).not.toEqual([]);
    expect(
      paths(CutPlanInput, { ...input, changes: [{ upsert: { id: 'A' } }, { upsert: { id: new Date(0) } }] }).every(
        (p) => p.startsWith('changes.1'),
      ),
    ).toBe(true);
    expect(
      paths(CutPlanInput, { ...input, changes: [{ upsert: { id: 'A' } }, { upsert: { id: new Date(0) } }] }),
    ).not.toEqual([]);
  });

  it('a resolved plan needs its id and author, and exactly one of changes and a change set', () => {
    const set = { format: 'ndjson', sha256: H('a'), bytes: 10, count: 2, upserts: 1, deletes: 1 };
    ok(CutPlan, plan);
    ok(CutPlan, { ...plan, changes: undefined, changeSet: set });
    expect(paths(CutPlan, { ...plan, id: undefined })).toEqual(['id']);
    expect(paths(CutPlan, { ...plan, id: 'a b' })).toEqual(['id']);
    expect(paths(CutPlan, { ...plan, author: undefined })).toEqual(['author']);
    expect(paths(CutPlan, { ...plan, author: '' })).toEqual(['author']);
    expect(paths(CutPlan, { ...plan, target: '' })).toEqual(['target']);
    expect(paths(CutPlan, { ...plan, reason: '' })).toEqual(['reason']);
    expect(paths(CutPlan, { ...plan, changes: [] })).toEqual(['changes']);
    expect(messages(CutPlan, { ...plan, changeSet: set })).toEqual(['give exactly one of changes and changeSet']);
    expect(paths(CutPlan, { ...plan, changes: undefined })).toEqual(['changes']);
  });

  it('a change set: ndjson, a SHA-256, positive sizes, non-negative tallies', () => {
    const set = { format: 'ndjson', sha256: H('a'), bytes: 1, count: 1, upserts: 0, deletes: 0 };
    ok(ChangeSet, set);
    ok(ChangeSet, { ...set, bytes: 500, count: 3, upserts: 2, deletes: 1 });
    expect(paths(ChangeSet, { ...set, format: 'csv' })).toEqual(['format']);
    for (const sha of [H('A'), 'a'.repeat(63), 'a'.repeat(65), `x${'a'.repeat(64)}`, `${'a'.repeat(64)}x`])
      expect(paths(ChangeSet, { ...set, sha256: sha })).toEqual(['sha256']);
    expect(paths(ChangeSet, { ...set, bytes: 0 })).toEqual(['bytes']);
    expect(paths(ChangeSet, { ...set, count: 0 })).toEqual(['count']);
    expect(paths(ChangeSet, { ...set, upserts: -1 })).toEqual(['upserts']);
    expect(paths(ChangeSet, { ...set, deletes: -1 })).toEqual(['deletes']);
  });

  it('counts the changes inline or in the change set', () => {
    expect(changeCount({ changes: [{ upsert: { id: 'A' } }, { delete: { id: 'B' } }] })).toBe(2);
    expect(
      changeCount({ changeSet: { format: 'ndjson', sha256: H('a'), bytes: 9, count: 7, upserts: 7, deletes: 0 } }),
    ).toBe(7);
    expect(changeCount({})).toBe(0);
  });
});

describe('governance shapes', () => {
  const alice = newKey();
  const bob = newKey();
  const root = newKey();
  const registry = (over: Partial<Registry> = {}): Registry => ({
    members: {
      root: { publicKey: root, roles: ['admin'] },
      alice: { publicKey: alice, roles: ['approver', 'dba'] },
      bob: { publicKey: bob, roles: ['approver'] },
    },
    policy: { requiredApprovals: 1, approvalTtlSeconds: 60, requireDryRun: true, maxRows: 10 },
    admins: { threshold: 1 },
    ...over,
  });

  it('names the stream and the built-in roles', () => {
    expect(GOVERNANCE_STREAM).toBe('governance');
    expect(ROLES).toEqual(['author', 'approver', 'operator', 'admin']);
  });

  it('member names: a letter or digit first, then letters, digits, ".", "_", "@", "-", at most 64', () => {
    for (const n of ['alice', 'A', '0', 'a.b_c@d-e', 'a'.repeat(64)]) ok(MemberName, n);
    for (const n of ['', '-a', '.a', '@a', 'a b', 'a/b', 'a'.repeat(65), 'a\nb', 'é'])
      expect(messages(MemberName, n), n).toEqual(['letters, digits, ".", "_", "@" or "-"']);
  });

  it('member keys: the cutter form or an OpenSSH line, canonical base64 of 32 bytes', () => {
    const ssh = sshLine(rawOf(alice));
    ok(Member, { publicKey: alice, roles: ['admin'] });
    ok(Member, { publicKey: ssh, roles: ['approver'] });
    ok(Member, { publicKey: sshLine(rawOf(alice), 'alice@laptop'), roles: ['x.y_z-1'] });
    ok(PublicKeyText, `ed25519:${'A'.repeat(43)}=`);
    for (const bad of [
      `ed25519:${'A'.repeat(42)}=`,
      `ed25519:${'A'.repeat(43)}`,
      `ed25519:${'A'.repeat(43)}= `,
      `x${alice}`,
      'ssh-rsa AAAAB3NzaC1yc2E',
      ssh.replace('ssh-ed25519 ', 'ssh-ed25519  '),
      `${ssh}\nx`,
      `z${ssh}`,
    ]) {
      expect(messages(PublicKeyText, bad), bad).toEqual([
        'ed25519:<base64 of the 32-byte key>, or an OpenSSH "ssh-ed25519 AAAA…" public key',
      ]);
    }
    // Well formed but not a canonical 32-byte key: refused by Member with its own message.
    expect(messages(Member, { publicKey: `ed25519:${'A'.repeat(42)}B=`, roles: ['admin'] })).toEqual([
      'not a valid Ed25519 public key in canonical base64',
    ]);
    expect(paths(Member, { publicKey: alice, roles: [] })).toEqual(['roles']);
    expect(paths(Member, { publicKey: alice, roles: ['has space'] })).toEqual(['roles.0']);
    expect(messages(Member, { publicKey: alice, roles: ['-lead'] })).toEqual(['letters, digits, ".", "_" or "-"']);
    expect(paths(Member, { publicKey: alice, roles: ['a@b'] })).toEqual(['roles.0']);
    ok(Member, { publicKey: alice, roles: ['r'.repeat(64)] });
    expect(paths(Member, { publicKey: alice, roles: ['r'.repeat(65)] })).toEqual(['roles.0']);
  });

  it('reads the raw key of either form, and refuses any other spelling of it', () => {
    const raw = rawOf(alice);
    expect(rawKeyOf(alice)).toEqual(raw);
    expect(rawKeyOf(sshLine(raw))).toEqual(raw);
    expect(rawKeyOf(sshLine(raw, 'a comment'))).toEqual(raw);
    // A flipped padding bit decodes to the same bytes: not the canonical spelling, refused.
    const b64 = alice.slice('ed25519:'.length);
    const last = b64[42]!;
    const twin = `ed25519:${b64.slice(0, 42)}${'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.indexOf(last) ^ 1]}=`;
    expect(Buffer.from(twin.slice(8), 'base64')).toEqual(raw);
    expect(rawKeyOf(twin)).toBeUndefined();
    expect(rawKeyOf(`ed25519:${Buffer.alloc(31).toString('base64')}`)).toBeUndefined();
    expect(rawKeyOf(`ed25519:${Buffer.alloc(33).toString('base64')}`)).toBeUndefined();
    expect(rawKeyOf(`ed25519:${Buffer.alloc(32, 7).toString('base64')}`)).toEqual(Buffer.alloc(32, 7));
    // OpenSSH blobs: wrong type, wrong lengths, wrong inner name, non-canonical base64, no blob.
    const blob = Buffer.from(sshLine(raw).split(' ')[1]!, 'base64');
    const line = (b: Buffer, type = 'ssh-ed25519') => `${type} ${b.toString('base64')}`;
    expect(rawKeyOf(line(blob, 'ssh-rsa'))).toBeUndefined();
    expect(rawKeyOf('ssh-ed25519')).toBeUndefined();
    expect(rawKeyOf('ssh-ed25519 ')).toBeUndefined();
    expect(rawKeyOf(line(Buffer.concat([blob, Buffer.alloc(1)])))).toBeUndefined();
    expect(rawKeyOf(line(blob.subarray(0, blob.length - 1)))).toBeUndefined();
    const bad = (at: number, value: number) => {
      const b = Buffer.from(blob);
      b[at] = value;
      return line(b);
    };
    expect(rawKeyOf(bad(3, 12))).toBeUndefined(); // name length 12
    expect(rawKeyOf(bad(4, 'S'.charCodeAt(0)))).toBeUndefined(); // name "Ssh-ed25519"
    expect(rawKeyOf(bad(14, '8'.charCodeAt(0)))).toBeUndefined(); // name "ssh-ed25518"
    expect(rawKeyOf(bad(18, 31))).toBeUndefined(); // key length 31
    // The OpenSSH blob (51 bytes) has no padding: a padded spelling decodes the same but is not canonical.
    expect(rawKeyOf(`${line(blob)}=`)).toBeUndefined();
    expect(rawKeyOf(`${line(blob)}==`)).toBeUndefined();
  });

  it('a registry: enough admins for its threshold, each key enrolled once whatever its spelling', () => {
    ok(Registry, registry());
    ok(
      Registry,
      registry({
        admins: { threshold: 2 },
        members: { ...registry().members, bob: { publicKey: bob, roles: ['admin'] } },
      }),
    );
    const short = Registry.safeParse(registry({ admins: { threshold: 2 } }));
    expect(short.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['admins.threshold', '2 admin signatures required but only 1 member(s) have role admin'],
    ]);
    const twice = Registry.safeParse(
      registry({
        members: { ...registry().members, carol: { publicKey: sshLine(rawOf(alice), 'c'), roles: ['approver'] } },
      }),
    );
    expect(twice.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['members.carol.publicKey', 'the same key as member alice (one key, one member: four-eyes counts keys)'],
    ]);
    const same = Registry.safeParse(
      registry({ members: { ...registry().members, carol: { publicKey: bob, roles: ['approver'] } } }),
    );
    expect(same.error?.issues.map((i) => i.path.join('.'))).toEqual(['members.carol.publicKey']);
    expect(paths(Registry, registry({ admins: { threshold: 0 } }))).toEqual(['admins.threshold']);
    expect(
      paths(Registry, {
        ...registry(),
        members: { 'bad name': { publicKey: newKey(), roles: ['admin'] }, root: registry().members.root },
      }),
    ).toEqual(['members.bad name']);
    expect(paths(Registry, registry({ policy: { ...registry().policy, maxRows: 0 } }))).toEqual(['policy.maxRows']);
    expect(short.error?.issues[0]?.code).toBe('custom');
    expect(twice.error?.issues[0]?.code).toBe('custom');
    // A member key that is not canonical is named, and the duplicate check still runs over the others.
    const twin = `ed25519:${Buffer.alloc(32, 1).toString('base64').slice(0, 42)}B=`;
    expect(rawKeyOf(twin)).toBeUndefined();
    const odd = Registry.safeParse(
      registry({
        members: {
          ...registry().members,
          carol: { publicKey: twin, roles: ['approver'] },
          dave: { publicKey: twin, roles: ['approver'] },
        },
      }),
    );
    expect(odd.error?.issues.map((i) => i.path.join('.'))).toEqual([
      'members.carol.publicKey',
      'members.dave.publicKey',
      'members.dave.publicKey',
    ]);
  });

  it('governance events: proposals from version 1, approvals from version 2', () => {
    const r = registry();
    const proposed = { version: 1, registry: r, registryHash: registryHash(r), previous: null, at: at(0) };
    ok(GovernanceProposed, proposed);
    ok(GovernanceProposed, { ...proposed, version: 2, previous: H('b') });
    expect(paths(GovernanceProposed, { ...proposed, version: 0 })).toEqual(['version']);
    expect(paths(GovernanceProposed, { ...proposed, previous: 'x' })).toEqual(['previous']);
    expect(paths(GovernanceProposed, { ...proposed, registry: { ...r, admins: { threshold: 5 } } })).toEqual([
      'registry.admins.threshold',
    ]);
    ok(GovernanceApproved, { version: 2, registryHash: H('c'), at: at(1) });
    ok(GovernanceApproved, { version: 30, registryHash: H('c'), at: at(1) });
    expect(paths(GovernanceApproved, { version: 1, registryHash: H('c'), at: at(1) })).toEqual(['version']);
    ok(GovernanceEvent, { type: 'GovernanceProposed', data: proposed });
    ok(GovernanceEvent, { type: 'GovernanceApproved', data: { version: 2, registryHash: H('c'), at: at(1) } });
    expect(paths(GovernanceEvent, { type: 'GovernanceApproved', data: proposed })).not.toEqual([]);
    expect(
      paths(GovernanceEvent, { type: 'GovernanceProposed', data: { version: 2, registryHash: H('c'), at: at(1) } }),
    ).not.toEqual([]);
  });

  it('finds a member by own name only, never an inherited property', () => {
    const r = registry();
    expect(memberOf(r, 'alice')).toEqual({ publicKey: alice, roles: ['approver', 'dba'] });
    expect(memberOf(r, 'constructor')).toBeUndefined();
    expect(memberOf(r, '__proto__')).toBeUndefined();
    expect(memberOf(r, 'carol')).toBeUndefined();
    expect(memberOf(undefined, 'alice')).toBeUndefined();
  });

  it('hashes a registry and the genesis (the trust root) over exactly their content', () => {
    const r = registry();
    expect(registryHash(r)).toBe(hashOf(r));
    expect(registryHash({ ...r, admins: { threshold: 1 } })).toBe(registryHash(r));
    const g = { version: 1, registry: r, registryHash: registryHash(r), previous: null, at: at(0) };
    expect(trustRoot(g)).toBe(hashOf(g));
    expect(trustRoot({ ...g, extra: 'ignored' } as typeof g)).toBe(hashOf(g));
    expect(
      new Set([
        trustRoot(g),
        trustRoot({ ...g, at: at(1) }),
        trustRoot({ ...g, version: 2 }),
        trustRoot({ ...g, previous: H('a') }),
        trustRoot({ ...g, registryHash: H('b') }),
      ]).size,
    ).toBe(5);
  });
});

describe('event signatures', () => {
  const sig = { signer: 'alice', key: `SHA256:${'A'.repeat(43)}`, governance: 1, scheme: 'ed25519', sig: 'c2ln' };

  it('a signature names its signer, key fingerprint, governance version and scheme', () => {
    ok(EventSignature, sig);
    ok(EventSignature, {
      ...sig,
      scheme: 'sshsig',
      governance: 4,
      key: 'SHA256:abc+/0123456789abcdefghijklmnopqrstuvwxyzAB',
    });
    expect(SignatureScheme.options).toEqual(['ed25519', 'sshsig']);
    expect(paths(EventSignature, { ...sig, signer: '' })).toEqual(['signer']);
    expect(paths(EventSignature, { ...sig, sig: '' })).toEqual(['sig']);
    expect(paths(EventSignature, { ...sig, governance: 0 })).toEqual(['governance']);
    expect(paths(EventSignature, { ...sig, scheme: 'rsa' })).toEqual(['scheme']);
    for (const key of [
      `SHA256:${'A'.repeat(42)}`,
      `SHA256:${'A'.repeat(44)}`,
      `MD5:${'A'.repeat(43)}`,
      `xSHA256:${'A'.repeat(43)}`,
      `SHA256:${'A'.repeat(42)}=`,
    ]) {
      expect(paths(EventSignature, { ...sig, key }), key).toEqual(['key']);
    }
  });

  it('signs the canonical JSON of the event, its place in the store and the signer (exact bytes)', () => {
    const f = {
      streamId: 'cut-c1',
      version: 3,
      eventId: 'e-1',
      type: 'CutAborted',
      schemaVersion: 1,
      data: { b: 1, a: 2 },
      signer: 'alice',
      key: 'SHA256:k',
      governance: 2,
    };
    expect(signedMessage(f).toString()).toBe(
      '{"data":{"a":2,"b":1},"domain":"cutter-event/1","eventId":"e-1","governance":2,"key":"SHA256:k","schemaVersion":1,"signer":"alice","streamId":"cut-c1","type":"CutAborted","version":3}',
    );
    expect(JSON.parse(signedMessage({ ...f, data: undefined }).toString()).data).toBeNull();
    expect(SSHSIG_NAMESPACE).toBe('cutter');
  });
});

describe('checkpoints', () => {
  const heads = [
    { streamId: 'cut-a', version: 2, hash: H('a') },
    { streamId: 'governance', version: 1, hash: H('b') },
  ];
  const recorded = { streams: heads, root: headsRoot(heads), governanceVersion: 1, previous: null, at: at(0) };

  it('the root is the hash of the sorted heads', () => {
    expect(CHECKPOINT_STREAM).toBe('checkpoints');
    expect(headsRoot(heads)).toBe(hashOf(heads));
    expect(headsRoot([])).toBe('4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945');
  });

  it('a stream head has an id, a version from 1 and a hash', () => {
    ok(StreamHead, heads[0]);
    ok(StreamHead, { ...heads[0], version: 1 });
    expect(paths(StreamHead, { ...heads[0], version: 0 })).toEqual(['version']);
    expect(paths(StreamHead, { ...heads[0], streamId: '' })).toEqual(['streamId']);
    expect(paths(StreamHead, { ...heads[0], hash: 'x' })).toEqual(['hash']);
  });

  it('a recorded checkpoint and its file, refusing bad fields by path', () => {
    ok(CheckpointRecorded, recorded);
    ok(CheckpointRecorded, { ...recorded, governanceVersion: 3, previous: { version: 1, root: H('c') } });
    expect(paths(CheckpointRecorded, { ...recorded, governanceVersion: 0 })).toEqual(['governanceVersion']);
    expect(paths(CheckpointRecorded, { ...recorded, previous: { version: 0, root: H('c') } })).toEqual([
      'previous.version',
    ]);
    expect(paths(CheckpointRecorded, { ...recorded, previous: { version: 1, root: H('c'), x: 1 } })).toEqual([
      'previous',
    ]);
    expect(paths(CheckpointRecorded, { ...recorded, streams: [{ ...heads[0], version: 0 }] })).toEqual([
      'streams.0.version',
    ]);
    const file = {
      format: 'cutter-checkpoint/1',
      trustRoot: H('d'),
      event: {
        streamId: 'checkpoints',
        version: 1,
        eventId: '123e4567-e89b-42d3-a456-426614174000',
        type: 'CheckpointRecorded',
        schemaVersion: 1,
        data: recorded,
        signature: { signer: 'alice', key: `SHA256:${'A'.repeat(43)}`, governance: 1, scheme: 'ed25519', sig: 's' },
        hash: H('e'),
      },
    };
    ok(CheckpointFile, file);
    ok(CheckpointFile, { ...file, event: { ...file.event, version: 5, schemaVersion: 2 } });
    expect(paths(CheckpointFile, { ...file, format: 'cutter-checkpoint/2' })).toEqual(['format']);
    expect(paths(CheckpointFile, { ...file, event: { ...file.event, streamId: 'cut-a' } })).toEqual(['event.streamId']);
    expect(paths(CheckpointFile, { ...file, event: { ...file.event, type: 'CutPlanned' } })).toEqual(['event.type']);
    expect(paths(CheckpointFile, { ...file, event: { ...file.event, eventId: 'e1' } })).toEqual(['event.eventId']);
    expect(paths(CheckpointFile, { ...file, event: { ...file.event, version: 0 } })).toEqual(['event.version']);
    expect(paths(CheckpointFile, { ...file, event: { ...file.event, schemaVersion: 0 } })).toEqual([
      'event.schemaVersion',
    ]);
    expect(
      paths(CheckpointFile, { ...file, event: { ...file.event, signature: { ...file.event.signature, sig: '' } } }),
    ).toEqual(['event.signature.sig']);
  });
});

// One well-formed event of every domain type (the shared builders plus the few they lack).
const live = { runId: 'l1', planHash: HASH, executor: 'postgres-table' as const, at: at(12) };
const P = phaseEvents();
const ALL: DomainEventT[] = [
  planned(),
  approval('alice'),
  { type: 'CutAborted', data: { planHash: HASH, reason: 'no', at: at(1) } },
  ...dryRun(),
  ...fullLive(),
  {
    type: 'VerifyFailed',
    data: { ...live, expectedHash: H('c'), actualHash: H('d'), mismatches: [{ key: 'A', reason: 'differs' }] },
  },
  { type: 'PhaseFailed', data: { ...live, phase: 'legA', error: { code: 'X', message: 'y' } } },
  halted(),
  resumed(),
  { type: 'RunContinued', data: { ...live, evidence: { at: at(12), locks: OPEN, approvals: ['alice'] } } },
  revertStart(),
  reverted(),
  { type: 'RevertFailed', data: { ...live, runId: 'rv1', error: { code: 'X', message: 'y' } } },
];

describe('the domain event union', () => {
  it('accepts one well-formed event of each of the 20 types, and a stored copy of each parses back equal', () => {
    expect(new Set(ALL.map((e) => e.type)).size).toBe(20);
    expect(DomainEvent.options.length).toBe(20);
    for (const e of ALL) {
      ok(DomainEvent, e);
      const s = toStorable(e, { machineVersion: '9.9.9' });
      const parsed = parseStored(s);
      expect(parsed.success, e.type).toBe(true);
      expect(parsed.data).toEqual(e);
    }
  });

  it('refuses an event of another type carrying these data, or extra fields, naming where', () => {
    for (const e of ALL) {
      const other = ALL.find(
        (o) => o.type !== e.type && Object.keys(o.data).sort().join() !== Object.keys(e.data).sort().join(),
      )!;
      expect(
        parseStored({ type: other.type, data: e.data, metadata: { schemaVersion: SCHEMA_VERSIONS[other.type] ?? 1 } })
          .success,
        `${e.type} as ${other.type}`,
      ).toBe(false);
      expect(paths(DomainEvent, { ...e, data: { ...e.data, extra: 1 } }), e.type).toEqual(['data']);
    }
  });

  it('names the field of a bad event in the error', () => {
    const bad = parseStored({
      type: 'CutAborted',
      data: { planHash: 'nope', reason: 'r', at: at(1) },
      metadata: { schemaVersion: 1 },
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['data.planHash']);
    const unknown = parseStored({ type: 'CutExploded', data: {}, metadata: null });
    expect(unknown.success).toBe(false);
    expect(unknown.error?.issues.map((i) => i.path.join('.'))).toEqual(['type']);
  });

  it('the executor of each event is fixed: simulator for dry runs, postgres-table for live', () => {
    const [start] = dryRun();
    expect(paths(DomainEvent, { ...start, data: { ...start!.data, executor: 'postgres-table' } })).toEqual([
      'data.executor',
    ]);
    expect(paths(DomainEvent, { ...P.legA, data: { ...P.legA!.data, executor: 'simulator' } })).toEqual([
      'data.executor',
    ]);
  });

  it('the live-phase events may carry a reconciled flag; the others refuse it', () => {
    for (const e of [P.backup!, P.legA!, P.legB!, P.verify!, P.enact!, reverted()])
      ok(DomainEvent, { ...e, data: { ...e.data, reconciled: true } });
    expect(paths(DomainEvent, { ...resumed(), data: { ...resumed().data, reconciled: true } })).toEqual(['data']);
    expect(paths(DomainEvent, { ...P.legA, data: { ...P.legA!.data, reconciled: 'yes' } })).toEqual([
      'data.reconciled',
    ]);
  });

  it('refuses receipts that are empty', () => {
    for (const e of [P.backup!, P.legA!, P.legB!, P.verify!, P.enact!, reverted()]) {
      expect(paths(DomainEvent, { ...e, data: { ...e.data, receipt: '' } }), e.type).toEqual(['data.receipt']);
    }
  });
});

describe('the recorded plan in CutPlanned', () => {
  const set = { format: 'ndjson', sha256: H('a'), bytes: 10, count: 2, upserts: 1, deletes: 1 };

  it('records either the inline changes (each an object) or the change set', () => {
    ok(RecordedPlan, plan);
    ok(RecordedPlan, { ...plan, changes: undefined, changeSet: set });
    expect(messages(RecordedPlan, { ...plan, changeSet: set })).toEqual(['exactly one of changes and changeSet']);
    expect(paths(RecordedPlan, { ...plan, changeSet: set })).toEqual(['changes']);
    expect(paths(RecordedPlan, { ...plan, changes: undefined })).toEqual(['changes']);
    expect(paths(RecordedPlan, { ...plan, changes: [] })).toEqual(['changes']);
    expect(paths(RecordedPlan, { ...plan, changes: ['x'] })).toEqual(['changes.0']);
    for (const k of ['target', 'author', 'reason']) expect(paths(RecordedPlan, { ...plan, [k]: '' }), k).toEqual([k]);
    expect(paths(RecordedPlan, { ...plan, id: 'a b' })).toEqual(['id']);
  });

  it('CutPlanned carries the policy, the precheck and an optional author key', () => {
    const p = planned();
    const d = p.data as Record<string, unknown>;
    ok(DomainEvent, { ...p, data: { ...d, authorKey: newKey() } });
    const a = approval('alice');
    ok(DomainEvent, { ...a, data: { ...a.data, governanceVersion: 1 } });
    ok(DomainEvent, { ...a, data: { ...a.data, governanceVersion: 7 } });
    expect(paths(DomainEvent, { ...a, data: { ...a.data, governanceVersion: 0 } })).toEqual(['data.governanceVersion']);
    expect(paths(DomainEvent, { ...p, data: { ...d, authorKey: 'rsa' } })).toEqual(['data.authorKey']);
    expect(paths(DomainEvent, { ...p, data: { ...d, rowCount: -1 } })).toEqual(['data.rowCount']);
    expect(paths(DomainEvent, { ...p, data: { ...d, plan: { ...plan, changes: [] } } })).toEqual(['data.plan.changes']);
  });
});

describe('ApprovalGranted versions', () => {
  const v2 = approval('alice').data as Extract<DomainEventT, { type: 'ApprovalGranted' }>['data'];
  const { roles, ...rest } = v2;
  const v1 = { ...rest, role: roles[0]! };

  it('stamps the current schema version (2 for ApprovalGranted, 1 for the rest) and the machine version', () => {
    expect(toStorable(approval('alice'), { machineVersion: '1.1.0' }).metadata).toEqual({
      schemaVersion: 2,
      machineVersion: '1.1.0',
    });
    expect(toStorable(planned(), { machineVersion: '2.0.0' })).toEqual({
      type: 'CutPlanned',
      data: planned().data,
      metadata: { schemaVersion: 1, machineVersion: '2.0.0' },
    });
    expect(
      toStorable({ type: 'KillSwitchReleased', data: { at: at(0) } }, { machineVersion: 'x' }).metadata.schemaVersion,
    ).toBe(1);
  });

  it('upcasts version 1 (one role) to version 2 (roles), and replays it', () => {
    ok(ApprovalGrantedV1, v1);
    expect(upcast('ApprovalGranted', 1, v1)).toEqual(v2);
    expect(upcast('ApprovalGranted', 2, v2)).toBe(v2);
    const cut = planned().data;
    expect(upcast('CutPlanned', 1, cut)).toBe(cut);
    const parsed = parseStored({ type: 'ApprovalGranted', data: v1, metadata: { schemaVersion: 1 } });
    expect(parsed.success).toBe(true);
    expect(parsed.data).toEqual({ type: 'ApprovalGranted', data: v2 });
    // No schema version recorded: version 1.
    expect(parseStored({ type: 'ApprovalGranted', data: v1 }).data).toEqual({ type: 'ApprovalGranted', data: v2 });
    expect(parseStored({ type: 'ApprovalGranted', data: v1, metadata: null }).data).toEqual({
      type: 'ApprovalGranted',
      data: v2,
    });
    expect(parseStored({ type: 'ApprovalGranted', data: v2, metadata: { schemaVersion: '2' } }).data).toEqual({
      type: 'ApprovalGranted',
      data: v2,
    });
    // A v2 record stored as v1 is not silently taken: the upcaster expects `role`.
    expect(parseStored({ type: 'ApprovalGranted', data: v2, metadata: { schemaVersion: 1 } }).success).toBe(false);
  });

  it('refuses a version no upcaster starts from, as a parse error (never a throw)', () => {
    expect(() => upcast('ApprovalGranted', 0, v1)).toThrow('no upcaster for ApprovalGranted v0');
    expect(() => upcast('CutPlanned', 0, {})).toThrow('no upcaster for CutPlanned v0');
    const r = parseStored({ type: 'ApprovalGranted', data: v1, metadata: { schemaVersion: 0 } });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain('data');
    expect(r.error?.issues.map((i) => i.message).join('\n')).toMatch(/upcastError/);
  });
});

describe('kill-switch events', () => {
  it('engaging needs a reason and a time; releasing a time', () => {
    ok(KillSwitchEvent, { type: 'KillSwitchEngaged', data: { reason: 'incident', at: at(0) } });
    ok(KillSwitchEvent, { type: 'KillSwitchReleased', data: { at: at(0) } });
    expect(paths(KillSwitchEvent, { type: 'KillSwitchEngaged', data: { reason: '', at: at(0) } })).toEqual([
      'data.reason',
    ]);
    expect(paths(KillSwitchEvent, { type: 'KillSwitchReleased', data: { at: 'later' } })).toEqual(['data.at']);
    expect(paths(KillSwitchEvent, { type: 'KillSwitchReleased', data: { at: at(0), reason: 'x' } })).toEqual(['data']);
    expect(paths(KillSwitchEvent, { type: 'KillSwitchToggled', data: { at: at(0) } })).toEqual(['type']);
  });
});
