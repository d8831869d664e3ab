/**
 * The machines (machines/) as the log's reader relies on them: the approval rules (four-eyes by
 * name and key, binding to the plan, signatures, expiry, roles, the threshold) with the reason each
 * refusal gives; the exact bytes an approver signs; the kill-switch alternation, folded and
 * decided; and the cut machine's guards, each shown refusing the one thing it exists to refuse.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { getInitialSnapshot, transition } from 'xstate';
import { describe, expect, it } from 'vitest';
import {
  approvalPayload,
  evaluateApprovals,
  rawPublicKey,
  verifyApprovalSignature,
  type ApprovalRecord,
} from '../../machines/approvals.js';
import { killSwitchMachine, KILL_SWITCH_STREAM } from '../../machines/killswitch.js';
import { cutMachine, LIVE_EXECUTOR, locksOpen, MACHINE_VERSION, PHASES, SIM_EXECUTOR } from '../../machines/cut.js';
import * as A from '../support/cut-events.js';
import {
  dryRun,
  halted,
  HASH,
  liveStart,
  OPEN,
  phaseEvents,
  planned,
  resumed,
  reverted,
  revertStart,
} from '../support/cut-events.js';
import { decideKillSwitch, foldKillSwitch } from '../../src/domain/killswitch.js';
import { IllegalTransitionError } from '../../src/errors.js';
import { publicKeyText } from '../../src/crypto/approvals.js';
import type { DomainEvent, Policy } from '../../events/index.js';

const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const at = (s = 0) => new Date(T0 + s * 1000).toISOString();
const PLAN = 'a'.repeat(64);
const keys: Record<string, KeyObject> = Object.fromEntries(
  ['alice', 'bob', 'carol', 'erin', 'mallory'].map((n) => [n, generateKeyPairSync('ed25519').privateKey]),
);
const pub = (n: string) => publicKeyText(keys[n]!);

/** A governed approval by `who` (its own key unless `signer`), signed over its payload. */
function approve(
  who: string,
  t = 0,
  o: {
    signer?: string;
    roles?: string[];
    planHash?: string;
    cutId?: string;
    publicKeyOf?: string;
    governanceVersion?: number;
  } = {},
): ApprovalRecord {
  const base = {
    cutId: o.cutId ?? 'c1',
    planHash: o.planHash ?? PLAN,
    decision: 'approve' as const,
    at: at(t),
    approver: who,
    roles: o.roles ?? ['approver'],
    governanceVersion: o.governanceVersion ?? 1,
  };
  const signature = sign(null, Buffer.from(approvalPayload(base)), keys[o.signer ?? who]!).toString('base64');
  return { ...base, signature, publicKey: pub(o.publicKeyOf ?? who) };
}
const POLICY: Policy = { requiredApprovals: 2, approvalTtlSeconds: 3600, requireDryRun: true, maxRows: 10 };
const ctx = (policy: Partial<Policy> = {}, authorKey?: string) => ({
  cutId: 'c1',
  planHash: PLAN,
  author: 'erin',
  ...(authorKey ? { authorKey } : {}),
  policy: { ...POLICY, ...policy },
});

describe('the approval payload', () => {
  it('is the canonical JSON of the cut, plan, decision and time (before governance)', () => {
    expect(
      approvalPayload({ cutId: 'c1', planHash: PLAN, decision: 'approve', at: at(0), approver: 'alice', roles: ['x'] }),
    ).toBe(`{"at":"2026-11-25T10:00:00.000Z","cutId":"c1","decision":"approve","planHash":"${PLAN}"}`);
  });

  it('adds who approves, with which roles, under which governance version (under governance)', () => {
    expect(
      approvalPayload({
        cutId: 'c1',
        planHash: PLAN,
        decision: 'approve',
        at: at(0),
        approver: 'alice',
        roles: ['dba', 'sre'],
        governanceVersion: 3,
      }),
    ).toBe(
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
    expect(
      verifyApprovalSignature({
        ...approve('alice'),
        publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA',
        signature: 'armored',
      }),
    ).toBe(true);
  });
});

describe('evaluating approvals against the policy', () => {
  it('counts two distinct, valid, fresh approvals, and then gives no reasons', () => {
    const v = evaluateApprovals([approve('alice'), approve('bob', 1)], ctx(), at(60));
    expect(v).toEqual({ ok: true, counted: ['alice', 'bob'], reasons: [] });
  });

  it('needs the threshold, and says how far it is', () => {
    expect(evaluateApprovals([approve('alice')], ctx(), at(60))).toEqual({
      ok: false,
      counted: ['alice'],
      reasons: ['approvals: 1 of 2 required'],
    });
    expect(evaluateApprovals([], ctx({ requiredApprovals: 1 }))).toEqual({
      ok: false,
      counted: [],
      reasons: ['approvals: 0 of 1 required'],
    });
    expect(evaluateApprovals([approve('alice'), approve('bob'), approve('carol')], ctx()).counted).toEqual([
      'alice',
      'bob',
      'carol',
    ]);
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
    expect(evaluateApprovals([approve('alice'), approve('alice', 5)], ctx())).toEqual({
      ok: false,
      counted: ['alice'],
      reasons: ['approvals: 1 of 2 required'],
    });
    // bob signing with alice's key: a valid signature, but the same key as alice.
    const bobAsAlice = approve('bob', 1, { signer: 'alice', publicKeyOf: 'alice' });
    expect(verifyApprovalSignature(bobAsAlice)).toBe(true);
    expect(evaluateApprovals([approve('alice'), bobAsAlice], ctx()).counted).toEqual(['alice']);
  });

  it('refuses an approval bound to another plan or another cut', () => {
    expect(
      evaluateApprovals([approve('alice', 0, { planHash: 'b'.repeat(64) }), approve('bob')], ctx()).reasons,
    ).toEqual(['approval by alice: bound to another plan', 'approvals: 1 of 2 required']);
    expect(evaluateApprovals([approve('alice', 0, { cutId: 'c2' }), approve('bob')], ctx()).reasons[0]).toBe(
      'approval by alice: bound to another plan',
    );
  });

  it('refuses a signature that does not verify, unless its verdict was already recorded', () => {
    const forged = approve('alice', 0, { signer: 'mallory' });
    expect(evaluateApprovals([forged, approve('bob')], ctx()).reasons[0]).toBe(
      'approval by alice: signature does not verify',
    );
    // The recorded verdicts are taken as they are (the machine verified each when it was folded).
    expect(evaluateApprovals([forged, approve('bob')], ctx(), undefined, [true, true]).ok).toBe(true);
    expect(evaluateApprovals([approve('alice'), approve('bob')], ctx(), undefined, [true, false]).reasons[0]).toBe(
      'approval by bob: signature does not verify',
    );
    // A missing verdict is established here.
    expect(evaluateApprovals([approve('alice'), forged], ctx(), undefined, [true]).reasons[0]).toBe(
      'approval by alice: signature does not verify',
    );
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
    expect(evaluateApprovals(two, ctx({ approvalTtlSeconds: 2 }), at(103)).reasons[0]).toBe(
      'approval by alice: expired (older than 2s)',
    );
    expect(evaluateApprovals(two, ctx(), at(99)).reasons[0]).toBe(`approval by alice: dated after ${at(99)}`);
    // Without an instant (when the cut becomes approved) age is not checked.
    expect(evaluateApprovals(two, ctx()).ok).toBe(true);
    expect(evaluateApprovals([approve('alice', 9000), approve('bob', 0)], ctx()).ok).toBe(true);
  });

  it('requires one approver with a required role when the policy names roles', () => {
    const need = ctx({ roles: ['sre', 'dba'] });
    expect(evaluateApprovals([approve('alice'), approve('bob')], need).reasons).toEqual([
      'approvals: none by an approver with role sre or dba',
    ]);
    expect(evaluateApprovals([approve('alice'), approve('bob')], need).ok).toBe(false);
    expect(evaluateApprovals([approve('alice'), approve('bob', 0, { roles: ['approver', 'dba'] })], need)).toEqual({
      ok: true,
      counted: ['alice', 'bob'],
      reasons: [],
    });
    expect(evaluateApprovals([approve('alice', 0, { roles: ['sre'] }), approve('bob')], need).ok).toBe(true);
    // A role held only by a refused approval does not count.
    expect(evaluateApprovals([approve('erin', 0, { roles: ['sre'] }), approve('alice'), approve('bob')], need).ok).toBe(
      false,
    );
    // Both shortfalls are named.
    expect(evaluateApprovals([approve('alice')], need).reasons).toEqual([
      'approvals: 1 of 2 required',
      'approvals: none by an approver with role sre or dba',
    ]);
    expect(evaluateApprovals([approve('alice'), approve('bob')], ctx({ roles: [] })).ok).toBe(true);
    // An empty list names no role; a role held by a counted approver is not missing, even short of the threshold.
    expect(evaluateApprovals([approve('alice')], ctx({ roles: [] })).reasons).toEqual(['approvals: 1 of 2 required']);
    expect(evaluateApprovals([approve('alice', 0, { roles: ['dba'] })], need).reasons).toEqual([
      'approvals: 1 of 2 required',
    ]);
  });

  it('the refusals of single approvals do not matter once the policy is met', () => {
    expect(evaluateApprovals([approve('erin'), approve('alice'), approve('bob')], ctx())).toEqual({
      ok: true,
      counted: ['alice', 'bob'],
      reasons: [],
    });
  });
});

describe('the kill-switch', () => {
  type Stored = { type: string; data: unknown; metadata?: Record<string, unknown> | null };
  const engaged = (reason: string, t: number, actor?: unknown): Stored => ({
    type: 'KillSwitchEngaged',
    data: { reason, at: at(t) },
    metadata: actor === undefined ? null : { actor },
  });
  const released = (t: number, actor?: unknown): Stored => ({
    type: 'KillSwitchReleased',
    data: { at: at(t) },
    ...(actor === undefined ? {} : { metadata: { actor } }),
  });

  it('starts released, with nothing recorded', () => {
    expect(KILL_SWITCH_STREAM).toBe('killswitch');
    expect(foldKillSwitch([])).toEqual({ engaged: false, version: 0 });
    expect(getInitialSnapshot(killSwitchMachine).value).toBe('released');
  });

  it('folds engage and release: why, since when, by whom, at which version', () => {
    expect(foldKillSwitch([engaged('incident 42', 1, 'alice')])).toEqual({
      engaged: true,
      version: 1,
      reason: 'incident 42',
      since: at(1),
      by: 'alice',
    });
    expect(foldKillSwitch([engaged('incident 42', 1, 'alice'), released(2, 'bob')])).toEqual({
      engaged: false,
      version: 2,
      since: at(2),
      by: 'bob',
    });
    expect(foldKillSwitch([engaged('a', 1, 'alice'), released(2, 'bob'), engaged('b', 3, 'dana')])).toEqual({
      engaged: true,
      version: 3,
      reason: 'b',
      since: at(3),
      by: 'dana',
    });
  });

  it('keeps the last actor named as a string', () => {
    expect(foldKillSwitch([engaged('r', 1, 'alice'), released(2, 7)]).by).toBe('alice');
    expect(foldKillSwitch([engaged('r', 1, 'alice'), released(2)]).by).toBe('alice');
    expect(foldKillSwitch([engaged('r', 1)])).toEqual({ engaged: true, version: 1, reason: 'r', since: at(1) });
  });

  it('ignores a second engage or a release of a released switch (illegal transitions change nothing)', () => {
    expect(foldKillSwitch([engaged('first', 1, 'alice'), engaged('second', 2, 'bob')])).toEqual({
      engaged: true,
      version: 2,
      reason: 'first',
      since: at(1),
      by: 'bob',
    });
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
    expect(decideKillSwitch({ action: 'engage', reason: 'why', at: at(5) }, off)).toEqual([
      { type: 'KillSwitchEngaged', data: { reason: 'why', at: at(5) } },
    ]);
    expect(decideKillSwitch({ action: 'release', at: at(5) }, on)).toEqual([
      { type: 'KillSwitchReleased', data: { at: at(5) } },
    ]);
    expect(() => decideKillSwitch({ action: 'engage', reason: 'again', at: at(5) }, on)).toThrow(
      IllegalTransitionError,
    );
    expect(() => decideKillSwitch({ action: 'engage', reason: 'again', at: at(5) }, on)).toThrow(
      'the kill-switch is already engaged (incident)',
    );
    expect(() =>
      decideKillSwitch({ action: 'engage', reason: 'again', at: at(5) }, { engaged: true, version: 1 }),
    ).toThrow('the kill-switch is already engaged (no reason)');
    expect(() => decideKillSwitch({ action: 'release', at: at(5) }, off)).toThrow(IllegalTransitionError);
    expect(() => decideKillSwitch({ action: 'release', at: at(5) }, off)).toThrow(
      'the kill-switch is already released',
    );
  });
});

describe('the cut machine', () => {
  type Snap = ReturnType<typeof getInitialSnapshot<typeof cutMachine>>;
  /** Folds `events`, each of which the machine must accept. */
  const run = (events: DomainEvent[], from: Snap = getInitialSnapshot(cutMachine)): Snap =>
    events.reduce((s, e, i) => {
      expect(s.can(e), `event ${i} ${e.type} in ${JSON.stringify(s.value)}`).toBe(true);
      return transition(cutMachine, s, e)[0];
    }, from);
  const refuses = (s: Snap, e: DomainEvent) => expect(s.can(e), `${e.type} in ${JSON.stringify(s.value)}`).toBe(false);
  /** `e` with its data changed (a recorded event a guard must judge, whatever the schema would say). */
  const withData = (e: DomainEvent, over: Record<string, unknown>) =>
    ({ ...e, data: { ...e.data, ...over } }) as DomainEvent;
  const P = phaseEvents();
  const approved = [planned(), A.approval('alice'), A.approval('bob', 2)];
  const dry = dryRun();
  const live = [...approved, ...dry, liveStart()];

  it('names its version, executors and the phases in order', () => {
    expect(MACHINE_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    expect([LIVE_EXECUTOR, SIM_EXECUTOR]).toEqual(['postgres-table', 'simulator']);
    expect(PHASES).toEqual(['backup', 'legA', 'legB', 'verify', 'enact']);
    expect(locksOpen(OPEN)).toBe(true);
    for (const k of ['config', 'env', 'killSwitch'] as const) expect(locksOpen({ ...OPEN, [k]: false }), k).toBe(false);
  });

  it('a new cut takes only its plan, and records who wrote it under which policy', () => {
    const s0 = getInitialSnapshot(cutMachine);
    expect(s0.value).toBe('new');
    refuses(s0, A.approval('alice'));
    const s = run([planned()]);
    expect(s.value).toBe('planned');
    expect(s.context).toEqual({
      cutId: 'c1',
      planHash: HASH,
      author: 'erin',
      target: 'kb',
      policy: (planned().data as { policy: Policy }).policy,
      approvals: [],
      approvalSignatures: [],
      liveRuns: 0,
    });
    const key = publicKeyText(generateKeyPairSync('ed25519').publicKey);
    expect(run([withData(planned(), { authorKey: key })]).context.authorKey).toBe(key);
    refuses(s, planned());
  });

  it('approvals: each valid one is recorded with its verdict; the one completing the policy approves the cut', () => {
    const one = run([planned(), A.approval('alice')]);
    expect(one.value).toBe('planned');
    expect(one.context.approvals.map((a) => a.approver)).toEqual(['alice']);
    expect(one.context.approvalSignatures).toEqual([true]);
    const two = run([A.approval('bob', 2)], one);
    expect(two.value).toBe('approved');
    expect(two.context.approvalSignatures).toEqual([true, true]);
    // A further approval is still taken when approved.
    const three = run([A.approval('mallory', 3)], two);
    expect([three.value, three.context.approvals.length]).toEqual(['approved', 3]);
    refuses(three, A.approval('mallory', 4));
    // One approval suffices under a policy of one.
    expect(run([planned({ requiredApprovals: 1 }), A.approval('alice')]).value).toBe('approved');
  });

  it('refuses an approval by the author, a second one by the same approver or key, a forged one, or one for another plan', () => {
    for (const s of [run([planned()]), run([planned(), A.approval('alice')]), run(approved)]) {
      refuses(s, A.approval('erin'));
      refuses(s, A.approval('mallory', 1, { forgeWith: 'alice' }));
      refuses(s, A.approval('mallory', 1, { planHash: 'f'.repeat(64) }));
    }
    const one = run([planned(), A.approval('alice')]);
    refuses(one, A.approval('alice', 2));
    refuses(
      one,
      withData(A.approval('bob', 2), { publicKey: (A.approval('alice').data as { publicKey: string }).publicKey }),
    );
    refuses(run(approved), A.approval('bob', 3));
    // The same name with another key, or another name with the same key (both validly signed: before
    // governance the approver's name is not in the signed payload), is the same approver.
    const aliceNewKey = withData(A.approval('mallory', 2), { approver: 'alice' });
    const bobWithAliceKey = withData(A.approval('alice', 2), { approver: 'bob' });
    expect(
      verifyApprovalSignature(aliceNewKey.data as ApprovalRecord) &&
        verifyApprovalSignature(bobWithAliceKey.data as ApprovalRecord),
    ).toBe(true);
    refuses(one, aliceNewKey);
    refuses(one, bobWithAliceKey);
    refuses(run(approved), withData(A.approval('mallory', 3), { approver: 'bob' }));
    refuses(run(approved), withData(A.approval('bob', 3), { approver: 'carol' }));
    refuses(
      run(approved),
      withData(A.approval('mallory', 3), { publicKey: (A.approval('bob').data as { publicKey: string }).publicKey }),
    );
    // Signed with the author's enrolled key, whoever the approver claims to be.
    const erinKey = (A.approval('erin').data as { publicKey: string }).publicKey;
    const s = run([withData(planned(), { authorKey: erinKey })]);
    refuses(s, withData(A.approval('erin'), { approver: 'alice' }));
  });

  it('a required role: approvals without it are taken, but only one with it approves the cut', () => {
    const s = run([planned({ roles: ['sre'] }), A.approval('alice'), A.approval('bob', 2)]);
    expect(s.value).toBe('planned');
    expect(run([A.approval('mallory', 3, { roles: ['sre'] })], s).value).toBe('approved');
  });

  it('a dry run simulates the five phases in order, for this plan and run, then records its outcome', () => {
    const s = run([...approved, dry[0]!]);
    expect([s.value, s.context.runId, s.context.phase]).toEqual(['dryRun', 'd1', 'backup']);
    refuses(s, dry[2]!); // legA before backup
    refuses(s, withData(dry[1]!, { runId: 'd9' }));
    refuses(s, withData(dry[1]!, { planHash: 'f'.repeat(64) }));
    refuses(s, withData(dry[1]!, { executor: 'postgres-table' }));
    refuses(s, dry[6]!); // completed before all phases
    const sims = run(dry.slice(1, 6), s);
    expect(sims.context.phase).toBeUndefined();
    refuses(sims, dry[1]!);
    refuses(sims, withData(dry[6]!, { runId: 'd9' }));
    refuses(sims, withData(dry[6]!, { planHash: 'f'.repeat(64) }));
    refuses(sims, withData(dry[6]!, { executor: 'postgres-table' }));
    const done = run([dry[6]!], sims);
    expect(done.value).toBe('approved');
    expect(done.context.lastDryRun).toEqual({ runId: 'd1', passed: true, planHash: HASH });
    expect([done.context.runId, done.context.phase]).toEqual([undefined, undefined]);
    // Without enough approvals it goes back to planned.
    expect(run([planned(), A.approval('alice'), ...dry]).value).toBe('planned');
    // A dry run starts only for this plan and with the simulator.
    refuses(run(approved), withData(dry[0]!, { planHash: 'f'.repeat(64) }));
    refuses(run(approved), withData(dry[0]!, { executor: 'postgres-table' }));
    expect(run([planned(), ...dry]).context.lastDryRun?.passed).toBe(true);
  });

  it('a live run starts only approved, on this plan, with three open locks, fresh approvals and a passing dry run', () => {
    const ready = run([...approved, ...dry]);
    const s = run([liveStart()], ready);
    expect(s.value).toEqual({ live: 'backingUp' });
    expect([s.context.runId, s.context.phase, s.context.liveRuns]).toEqual(['l1', 'backup', 1]);
    for (const k of ['config', 'env', 'killSwitch'] as const)
      refuses(ready, liveStart('l1', 10, { ...OPEN, [k]: false }));
    refuses(ready, liveStart('l1', 4000)); // approvals expired (TTL 3600s)
    refuses(ready, withData(liveStart(), { planHash: 'f'.repeat(64) }));
    refuses(ready, withData(liveStart(), { executor: 'simulator' }));
    refuses(run(approved), liveStart()); // no dry run
    refuses(run([...approved, ...dryRun('d1', 3, false)]), liveStart()); // failed dry run
    refuses(run([planned(), A.approval('alice'), ...dry]), liveStart()); // not approved
    // Not required by the policy: no dry run needed.
    expect(
      run([planned({ requireDryRun: false }), A.approval('alice'), A.approval('bob', 2), liveStart()]).value,
    ).toEqual({ live: 'backingUp' });
  });

  it('the live phases run in order, each for this run, the backup first', () => {
    const s = run(live);
    refuses(s, P.legA!);
    for (const [k, v] of Object.entries({ runId: 'l9', planHash: 'f'.repeat(64), executor: 'simulator' }))
      refuses(s, withData(P.backup!, { [k]: v }));
    const b = run([P.backup!], s);
    expect(b.value).toEqual({ live: 'legA' });
    expect([b.context.phase, b.context.backup]).toEqual([
      'legA',
      { backupId: 'bk-1', runId: 'l1', preImageHash: 'a'.repeat(64), plaintextHash: 'e'.repeat(64) },
    ]);
    refuses(b, withData(P.legA!, { runId: 'l9' }));
    refuses(b, withData(P.legA!, { planHash: 'f'.repeat(64) }));
    refuses(b, P.legB!);
    const a = run([P.legA!], b);
    expect([a.value, a.context.phase]).toEqual([{ live: 'legB' }, 'legB']);
    const v = run([P.legB!], a);
    expect([v.value, v.context.phase]).toEqual([{ live: 'verifying' }, 'verify']);
    const e = run([P.verify!], v);
    expect([e.value, e.context.phase]).toEqual([{ live: 'enacting' }, 'enact']);
    const c = run([P.enact!], e);
    expect([c.value, c.context.phase]).toEqual(['completed', undefined]);
    expect(
      run(
        [
          P.backup!,
          P.legA!,
          P.legB!,
          {
            type: 'VerifyFailed',
            data: {
              runId: 'l1',
              planHash: HASH,
              executor: 'postgres-table',
              expectedHash: 'c'.repeat(64),
              actualHash: 'd'.repeat(64),
              mismatches: [],
              at: at(13),
            },
          },
        ],
        s,
      ).value,
    ).toBe('verifyFailed');
  });

  it('a phase fails or halts only at the phase the run is at; resuming needs open locks and fresh approvals', () => {
    const s = run([...live, P.backup!, P.legA!]);
    const failed = (phase: string, o: Record<string, unknown> = {}) =>
      ({
        type: 'PhaseFailed',
        data: {
          runId: 'l1',
          planHash: HASH,
          executor: 'postgres-table',
          phase,
          error: { code: 'X', message: 'y' },
          at: at(12),
          ...o,
        },
      }) as DomainEvent;
    refuses(s, failed('legA'));
    refuses(s, halted('legA'));
    refuses(s, withData(halted('legB'), { runId: 'l9' }));
    refuses(s, failed('legB', { planHash: 'f'.repeat(64) }));
    expect(run([failed('legB')], s).value).toBe('failed');
    const h = run([halted('legB')], s);
    expect(h.value).toBe('halted');
    refuses(h, resumed('l1', { ...OPEN, killSwitch: false }));
    refuses(h, resumed('l9'));
    refuses(h, withData(resumed(), { evidence: { at: at(5000), locks: OPEN, approvals: [] } }));
    const back = run([resumed()], h);
    expect([back.value, back.context.phase]).toEqual([{ live: 'legB' }, 'legB']);
  });

  it('an interrupted run is taken up again with open locks (and, for a live run, fresh approvals), counted', () => {
    const cont = (runId: string, t: number, locks = OPEN) =>
      ({
        type: 'RunContinued',
        data: {
          runId,
          planHash: HASH,
          executor: 'postgres-table',
          at: at(t),
          evidence: { at: at(t), locks, approvals: [] },
        },
      }) as DomainEvent;
    const s = run([...live, P.backup!]);
    refuses(s, cont('l1', 12, { ...OPEN, env: false }));
    refuses(s, cont('l1', 5000));
    refuses(s, cont('l9', 12));
    const once = run([cont('l1', 12)], s);
    expect([once.value, once.context.continuations]).toEqual([{ live: 'legA' }, 1]);
    expect(run([cont('l1', 13)], once).context.continuations).toBe(2);
    // A revert: locks only, whatever the approvals' age.
    const r = run([P.legA!, P.legB!, P.verify!, P.enact!, revertStart()], s);
    expect(r.value).toBe('reverting');
    expect(run([cont('rv1', 9000)], r).context.continuations).toBe(1);
    refuses(r, cont('rv1', 21, { ...OPEN, config: false }));
    refuses(r, cont('l1', 21));
  });

  it('a revert needs the backup this cut took, open locks, this plan; it may end reverted or failed, and be retried', () => {
    const done = run([...live, ...Object.values(P)]);
    for (const k of ['config', 'env', 'killSwitch'] as const)
      refuses(done, revertStart('rv1', { ...OPEN, [k]: false }));
    refuses(done, withData(revertStart(), { backupId: 'bk-9' }));
    refuses(done, withData(revertStart(), { planHash: 'f'.repeat(64) }));
    refuses(done, withData(revertStart(), { executor: 'simulator' }));
    const r = run([revertStart()], done);
    expect([r.value, r.context.runId, r.context.phase]).toEqual(['reverting', 'rv1', undefined]);
    refuses(r, reverted('rv9'));
    refuses(r, withData(reverted(), { planHash: 'f'.repeat(64) }));
    const fail = {
      type: 'RevertFailed',
      data: {
        runId: 'rv1',
        planHash: HASH,
        executor: 'postgres-table',
        error: { code: 'X', message: 'y' },
        at: at(21),
      },
    } as DomainEvent;
    refuses(r, withData(fail, { runId: 'rv9' }));
    const rf = run([fail], r);
    expect(rf.value).toBe('revertFailed');
    const again = run([revertStart('rv2'), reverted('rv2')], rf);
    expect([again.value, again.status]).toEqual(['reverted', 'done']);
    // From a halt, a failure or a failed verify too; never without a backup.
    expect(run([halted('legA'), revertStart()], run([...live, P.backup!, P.legA!].slice(0, -1))).value).toBe(
      'reverting',
    );
    refuses(run(live), revertStart());
    const failedAt = (phase: string) =>
      ({
        type: 'PhaseFailed',
        data: {
          runId: 'l1',
          planHash: HASH,
          executor: 'postgres-table',
          phase,
          error: { code: 'X', message: 'y' },
          at: at(12),
        },
      }) as DomainEvent;
    expect(run([failedAt('legA'), revertStart()], run([...live, P.backup!])).value).toBe('reverting');
    const vf = {
      type: 'VerifyFailed',
      data: {
        runId: 'l1',
        planHash: HASH,
        executor: 'postgres-table',
        expectedHash: 'c'.repeat(64),
        actualHash: 'd'.repeat(64),
        mismatches: [],
        at: at(13),
      },
    } as DomainEvent;
    expect(run([P.backup!, P.legA!, P.legB!, vf, revertStart()], run(live)).value).toBe('reverting');
    // Failed before any backup: nothing to restore.
    refuses(run([...live, failedAt('backup')]), revertStart());
    refuses(run(approved), revertStart());
  });

  it('an abort ends a planned or approved cut, for this plan only', () => {
    const abort = { type: 'CutAborted', data: { planHash: HASH, reason: 'no', at: at(5) } } as DomainEvent;
    const a = run([planned(), abort]);
    expect([a.value, a.status]).toEqual(['aborted', 'done']);
    expect(run([...approved, abort]).value).toBe('aborted');
    refuses(run([planned()]), withData(abort, { planHash: 'f'.repeat(64) }));
    refuses(run(live), abort);
    refuses(a, A.approval('alice'));
  });
});
