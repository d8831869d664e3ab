/**
 * The machines (machines/) as the log's reader relies on them: the approval rules (four-eyes by
 * name and key, binding to the plan, signatures, expiry, roles, the threshold) with the reason each
 * refusal gives; the exact bytes an approver signs; the kill-switch alternation, folded and
 * decided; and the cut machine's guards, each shown refusing the one thing it exists to refuse.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { getInitialSnapshot, transition } from 'xstate';
import { describe, expect, it } from 'vitest';
import { approvalPayload, evaluateApprovals, rawPublicKey, verifyApprovalSignature, type ApprovalRecord } from '../../machines/approvals.js';
import { killSwitchMachine, KILL_SWITCH_STREAM } from '../../machines/killswitch.js';
import { decideKillSwitch, foldKillSwitch } from '../../src/domain/killswitch.js';
import { IllegalTransitionError } from '../../src/errors.js';
import { publicKeyText } from '../../src/crypto/approvals.js';
import type { Policy } from '../../events/index.js';

const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const at = (s = 0) => new Date(T0 + s * 1000).toISOString();
const PLAN = 'a'.repeat(64);
const keys: Record<string, KeyObject> = Object.fromEntries(['alice', 'bob', 'carol', 'erin', 'mallory'].map((n) => [n, generateKeyPairSync('ed25519').privateKey]));
const pub = (n: string) => publicKeyText(keys[n]!);

/** A governed approval by `who` (its own key unless `signer`), signed over its payload. */
function approve(who: string, t = 0, o: { signer?: string; roles?: string[]; planHash?: string; cutId?: string; publicKeyOf?: string; governanceVersion?: number } = {}): ApprovalRecord {
  const base = { cutId: o.cutId ?? 'c1', planHash: o.planHash ?? PLAN, decision: 'approve' as const, at: at(t), approver: who, roles: o.roles ?? ['approver'], governanceVersion: o.governanceVersion ?? 1 };
  const signature = sign(null, Buffer.from(approvalPayload(base)), keys[o.signer ?? who]!).toString('base64');
  return { ...base, signature, publicKey: pub(o.publicKeyOf ?? who) };
}
const POLICY: Policy = { requiredApprovals: 2, approvalTtlSeconds: 3600, requireDryRun: true, maxRows: 10 };
const ctx = (policy: Partial<Policy> = {}, authorKey?: string) => ({ cutId: 'c1', planHash: PLAN, author: 'erin', ...(authorKey ? { authorKey } : {}), policy: { ...POLICY, ...policy } });

describe('the approval payload', () => {
  it('is the canonical JSON of the cut, plan, decision and time (before governance)', () => {
    expect(approvalPayload({ cutId: 'c1', planHash: PLAN, decision: 'approve', at: at(0), approver: 'alice', roles: ['x'] })).toBe(
      `{"at":"2026-11-25T10:00:00.000Z","cutId":"c1","decision":"approve","planHash":"${PLAN}"}`,
    );
  });

  it('adds who approves, with which roles, under which governance version (under governance)', () => {
    expect(approvalPayload({ cutId: 'c1', planHash: PLAN, decision: 'approve', at: at(0), approver: 'alice', roles: ['dba', 'sre'], governanceVersion: 3 })).toBe(
      `{"approver":"alice","at":"2026-11-25T10:00:00.000Z","cutId":"c1","decision":"approve","governanceVersion":3,"planHash":"${PLAN}","roles":["dba","sre"]}`,
    );
  });
});

describe('approval signatures', () => {
  it('reads the raw 32-byte key of the cutter form only', () => {
    const raw = Buffer.from(pub('alice').slice(8), 'base64');
    expect(rawPublicKey(pub('alice'))).toEqual(raw);
    expect(rawPublicKey(`ed25519:${Buffer.alloc(31).toString('base64')}`)).toBeUndefined();
    expect(rawPublicKey(`ed25519:${Buffer.alloc(33).toString('base64')}`)).toBeUndefined();
    expect(rawPublicKey(`ssh-ed25519 ${raw.toString('base64')}`)).toBeUndefined();
    expect(rawPublicKey(`x${pub('alice')}`)).toBeUndefined();
  });

  it('verifies a signature over exactly the signed fields, by exactly that key', () => {
    const a = approve('alice', 5, { roles: ['dba'], governanceVersion: 2 });
    expect(verifyApprovalSignature(a)).toBe(true);
    // Every signed field matters (and a verdict on one record is never reused for another).
    expect(verifyApprovalSignature({ ...a, cutId: 'c2' })).toBe(false);
    expect(verifyApprovalSignature({ ...a, planHash: 'b'.repeat(64) })).toBe(false);
    expect(verifyApprovalSignature({ ...a, at: at(6) })).toBe(false);
    expect(verifyApprovalSignature({ ...a, approver: 'bob' })).toBe(false);
    expect(verifyApprovalSignature({ ...a, roles: ['dba', 'admin'] })).toBe(false);
    expect(verifyApprovalSignature({ ...a, governanceVersion: 3 })).toBe(false);
    expect(verifyApprovalSignature({ ...a, publicKey: pub('bob') })).toBe(false);
    expect(verifyApprovalSignature({ ...a, signature: approve('alice', 6).signature })).toBe(false);
    expect(verifyApprovalSignature(a)).toBe(true);
    expect(verifyApprovalSignature({ ...a })).toBe(true);
  });

  it('refuses a forged signature, a malformed key or signature, without throwing', () => {
    expect(verifyApprovalSignature(approve('mallory', 0, { signer: 'mallory', publicKeyOf: 'alice' }))).toBe(false);
    const a = approve('alice');
    expect(verifyApprovalSignature({ ...a, publicKey: 'ed25519:AAAA' })).toBe(false);
    expect(verifyApprovalSignature({ ...a, publicKey: `ed25519:${Buffer.alloc(33).toString('base64')}` })).toBe(false);
    expect(verifyApprovalSignature({ ...a, signature: 'not base64 at all!' })).toBe(false);
    expect(verifyApprovalSignature({ ...a, signature: '' })).toBe(false);
  });

  it('verifies many distinct approvals correctly past the memo sizes (the caches clear, answers stay right)', () => {
    const a = approve('alice');
    let good = 0;
    let bad = 0;
    for (let i = 0; i < 300; i++) {
      const key = generateKeyPairSync('ed25519');
      const p = { ...a, at: at(i) };
      const signature = sign(null, Buffer.from(approvalPayload(p)), key.privateKey).toString('base64');
      if (verifyApprovalSignature({ ...p, signature, publicKey: publicKeyText(key.publicKey) })) good++;
      if (verifyApprovalSignature({ ...p, signature, publicKey: pub('alice') })) bad++;
    }
    expect([good, bad]).toEqual([300, 0]);
    expect(verifyApprovalSignature(a)).toBe(true);
  });

  it('takes an OpenSSH key as given here (its SSHSIG is checked with the governance trust checks)', () => {
    expect(verifyApprovalSignature({ ...approve('alice'), publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA', signature: 'armored' })).toBe(true);
  });
});

describe('evaluating approvals against the policy', () => {
  it('counts two distinct, valid, fresh approvals, and then gives no reasons', () => {
    const v = evaluateApprovals([approve('alice'), approve('bob', 1)], ctx(), at(60));
    expect(v).toEqual({ ok: true, counted: ['alice', 'bob'], reasons: [] });
  });

  it('needs the threshold, and says how far it is', () => {
    expect(evaluateApprovals([approve('alice')], ctx(), at(60))).toEqual({ ok: false, counted: ['alice'], reasons: ['approvals: 1 of 2 required'] });
    expect(evaluateApprovals([], ctx({ requiredApprovals: 1 }))).toEqual({ ok: false, counted: [], reasons: ['approvals: 0 of 1 required'] });
    expect(evaluateApprovals([approve('alice'), approve('bob'), approve('carol')], ctx()).counted).toEqual(['alice', 'bob', 'carol']);
  });

  it('never counts the author, by name or by key (four-eyes)', () => {
    expect(evaluateApprovals([approve('erin'), approve('alice')], ctx()).reasons).toEqual([
      'approval by erin: the author cannot approve (four-eyes)',
      'approvals: 1 of 2 required',
    ]);
    expect(evaluateApprovals([approve('alice'), approve('bob')], ctx({}, pub('bob'))).reasons).toEqual([
      "approval by bob: signed with the author's key (four-eyes counts keys)",
      'approvals: 1 of 2 required',
    ]);
    expect(evaluateApprovals([approve('alice'), approve('bob')], ctx({}, pub('carol'))).ok).toBe(true);
  });

  it('counts one approver, and one key, once', () => {
    expect(evaluateApprovals([approve('alice'), approve('alice', 5)], ctx())).toEqual({ ok: false, counted: ['alice'], reasons: ['approvals: 1 of 2 required'] });
    // bob signing with alice's key: a valid signature, but the same key as alice.
    const bobAsAlice = approve('bob', 1, { signer: 'alice', publicKeyOf: 'alice' });
    expect(verifyApprovalSignature(bobAsAlice)).toBe(true);
    expect(evaluateApprovals([approve('alice'), bobAsAlice], ctx()).counted).toEqual(['alice']);
  });

  it('refuses an approval bound to another plan or another cut', () => {
    expect(evaluateApprovals([approve('alice', 0, { planHash: 'b'.repeat(64) }), approve('bob')], ctx()).reasons).toEqual([
      'approval by alice: bound to another plan',
      'approvals: 1 of 2 required',
    ]);
    expect(evaluateApprovals([approve('alice', 0, { cutId: 'c2' }), approve('bob')], ctx()).reasons[0]).toBe('approval by alice: bound to another plan');
  });

  it('refuses a signature that does not verify, unless its verdict was already recorded', () => {
    const forged = approve('alice', 0, { signer: 'mallory' });
    expect(evaluateApprovals([forged, approve('bob')], ctx()).reasons[0]).toBe('approval by alice: signature does not verify');
    // The recorded verdicts are taken as they are (the machine verified each when it was folded).
    expect(evaluateApprovals([forged, approve('bob')], ctx(), undefined, [true, true]).ok).toBe(true);
    expect(evaluateApprovals([approve('alice'), approve('bob')], ctx(), undefined, [true, false]).reasons[0]).toBe('approval by bob: signature does not verify');
    // A missing verdict is established here.
    expect(evaluateApprovals([approve('alice'), forged], ctx(), undefined, [true]).reasons[0]).toBe('approval by alice: signature does not verify');
  });

  it('at an instant: refuses approvals dated after it, or older than the TTL (the TTL itself still counts)', () => {
    const two = [approve('alice', 100), approve('bob', 100)];
    expect(evaluateApprovals(two, ctx(), at(100)).ok).toBe(true);
    expect(evaluateApprovals(two, ctx(), at(100 + 3600)).ok).toBe(true);
    expect(evaluateApprovals(two, ctx({ approvalTtlSeconds: 2 }), at(102)).ok).toBe(true);
    expect(evaluateApprovals(two, ctx(), at(101 + 3600)).reasons).toEqual([
      'approval by alice: expired (older than 3600s)',
      'approval by bob: expired (older than 3600s)',
      'approvals: 0 of 2 required',
    ]);
    expect(evaluateApprovals(two, ctx({ approvalTtlSeconds: 2 }), at(103)).reasons[0]).toBe('approval by alice: expired (older than 2s)');
    expect(evaluateApprovals(two, ctx(), at(99)).reasons[0]).toBe(`approval by alice: dated after ${at(99)}`);
    // Without an instant (when the cut becomes approved) age is not checked.
    expect(evaluateApprovals(two, ctx()).ok).toBe(true);
    expect(evaluateApprovals([approve('alice', 9000), approve('bob', 0)], ctx()).ok).toBe(true);
  });

  it('requires one approver with a required role when the policy names roles', () => {
    const need = ctx({ roles: ['sre', 'dba'] });
    expect(evaluateApprovals([approve('alice'), approve('bob')], need).reasons).toEqual(['approvals: none by an approver with role sre or dba']);
    expect(evaluateApprovals([approve('alice'), approve('bob')], need).ok).toBe(false);
    expect(evaluateApprovals([approve('alice'), approve('bob', 0, { roles: ['approver', 'dba'] })], need)).toEqual({ ok: true, counted: ['alice', 'bob'], reasons: [] });
    expect(evaluateApprovals([approve('alice', 0, { roles: ['sre'] }), approve('bob')], need).ok).toBe(true);
    // A role held only by a refused approval does not count.
    expect(evaluateApprovals([approve('erin', 0, { roles: ['sre'] }), approve('alice'), approve('bob')], need).ok).toBe(false);
    // Both shortfalls are named.
    expect(evaluateApprovals([approve('alice')], need).reasons).toEqual(['approvals: 1 of 2 required', 'approvals: none by an approver with role sre or dba']);
    expect(evaluateApprovals([approve('alice'), approve('bob')], ctx({ roles: [] })).ok).toBe(true);
  });

  it('the refusals of single approvals do not matter once the policy is met', () => {
    expect(evaluateApprovals([approve('erin'), approve('alice'), approve('bob')], ctx())).toEqual({ ok: true, counted: ['alice', 'bob'], reasons: [] });
  });
});

describe('the kill-switch', () => {
  type Stored = { type: string; data: unknown; metadata?: Record<string, unknown> | null };
  const engaged = (reason: string, t: number, actor?: unknown): Stored => ({ type: 'KillSwitchEngaged', data: { reason, at: at(t) }, metadata: actor === undefined ? null : { actor } });
  const released = (t: number, actor?: unknown): Stored => ({ type: 'KillSwitchReleased', data: { at: at(t) }, ...(actor === undefined ? {} : { metadata: { actor } }) });

  it('starts released, with nothing recorded', () => {
    expect(KILL_SWITCH_STREAM).toBe('killswitch');
    expect(foldKillSwitch([])).toEqual({ engaged: false, version: 0 });
    expect(getInitialSnapshot(killSwitchMachine).value).toBe('released');
  });

  it('folds engage and release: why, since when, by whom, at which version', () => {
    expect(foldKillSwitch([engaged('incident 42', 1, 'alice')])).toEqual({ engaged: true, version: 1, reason: 'incident 42', since: at(1), by: 'alice' });
    expect(foldKillSwitch([engaged('incident 42', 1, 'alice'), released(2, 'bob')])).toEqual({ engaged: false, version: 2, since: at(2), by: 'bob' });
    expect(foldKillSwitch([engaged('a', 1, 'alice'), released(2, 'bob'), engaged('b', 3, 'dana')])).toEqual({ engaged: true, version: 3, reason: 'b', since: at(3), by: 'dana' });
  });

  it('keeps the last actor named as a string', () => {
    expect(foldKillSwitch([engaged('r', 1, 'alice'), released(2, 7)]).by).toBe('alice');
    expect(foldKillSwitch([engaged('r', 1, 'alice'), released(2)]).by).toBe('alice');
    expect(foldKillSwitch([engaged('r', 1)])).toEqual({ engaged: true, version: 1, reason: 'r', since: at(1) });
  });

  it('ignores a second engage or a release of a released switch (illegal transitions change nothing)', () => {
    expect(foldKillSwitch([engaged('first', 1, 'alice'), engaged('second', 2, 'bob')])).toEqual({ engaged: true, version: 2, reason: 'first', since: at(1), by: 'bob' });
    expect(foldKillSwitch([released(1, 'bob')])).toEqual({ engaged: false, version: 1, by: 'bob' });
    const snap = getInitialSnapshot(killSwitchMachine);
    expect(snap.can({ type: 'KillSwitchReleased', data: { at: at(0) } })).toBe(false);
    const [on] = transition(killSwitchMachine, snap, { type: 'KillSwitchEngaged', data: { reason: 'r', at: at(0) } });
    expect(on.can({ type: 'KillSwitchEngaged', data: { reason: 'r', at: at(1) } })).toBe(false);
    expect(on.can({ type: 'KillSwitchReleased', data: { at: at(1) } })).toBe(true);
  });

  it('refuses a stored event that does not validate', () => {
    expect(() => foldKillSwitch([{ type: 'KillSwitchEngaged', data: { reason: '', at: at(0) } }])).toThrow();
    expect(() => foldKillSwitch([{ type: 'KillSwitchFlipped', data: { at: at(0) } }])).toThrow();
  });

  it('decides: engage only when released, release only when engaged', () => {
    const off = foldKillSwitch([]);
    const on = foldKillSwitch([engaged('incident', 1, 'alice')]);
    expect(decideKillSwitch({ action: 'engage', reason: 'why', at: at(5) }, off)).toEqual([{ type: 'KillSwitchEngaged', data: { reason: 'why', at: at(5) } }]);
    expect(decideKillSwitch({ action: 'release', at: at(5) }, on)).toEqual([{ type: 'KillSwitchReleased', data: { at: at(5) } }]);
    expect(() => decideKillSwitch({ action: 'engage', reason: 'again', at: at(5) }, on)).toThrow(IllegalTransitionError);
    expect(() => decideKillSwitch({ action: 'engage', reason: 'again', at: at(5) }, on)).toThrow('the kill-switch is already engaged (incident)');
    expect(() => decideKillSwitch({ action: 'engage', reason: 'again', at: at(5) }, { engaged: true, version: 1 })).toThrow('the kill-switch is already engaged (no reason)');
    expect(() => decideKillSwitch({ action: 'release', at: at(5) }, off)).toThrow(IllegalTransitionError);
    expect(() => decideKillSwitch({ action: 'release', at: at(5) }, off)).toThrow('the kill-switch is already released');
  });
});
