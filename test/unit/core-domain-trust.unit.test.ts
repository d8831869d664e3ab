/**
 * What replay checks beyond the machine (src/domain/trust.ts): roles per stream and type, the
 * per-event authority checks, the kill-switch stream and its timeline, and a cut's stream against
 * governance. Each rule fires with its name on the violating history and stays silent on the legal one.
 */
import { describe, expect, it } from 'vitest';
import { foldGovernance, type TrustViolation } from '../../src/domain/governance.js';
import {
  checkCutTrust,
  checkEventTrust,
  checkKillSwitchStream,
  knownStream,
  requiredRoles,
  type KillSwitchTimeline,
} from '../../src/domain/trust.js';
import { nodeCrypto } from '../../src/governance/authority.js';
import {
  cutApproval,
  cutPlanned,
  fp,
  genesis,
  POLICY,
  proposal,
  pub,
  registry,
  revertEvent,
  runEvent,
  signed,
  T,
  type Name,
  type Signed,
} from '../support/core-domain-signed.js';

const rules = (vs: TrustViolation[]) => vs.map((v) => `${v.version}:${v.rule}`);
const gov = foldGovernance([genesis()], nodeCrypto);
const none: KillSwitchTimeline = { engagedAt: [false], points: [undefined] };
const cut = (events: Signed[], ks: KillSwitchTimeline = none, g = gov) => checkCutTrust(events, g, nodeCrypto, ks);
const honest = () => [cutPlanned(), cutApproval('alice', 2), cutApproval('bob', 3)];
const engage = (v: number, by: Name = 'alice', point?: { transactionId: string; globalPosition: string }) =>
  signed('killswitch', v, 'KillSwitchEngaged', { reason: 'r', at: T }, by, point ? { point } : {});
const release = (v: number, by: Name = 'root', point?: { transactionId: string; globalPosition: string }) =>
  signed('killswitch', v, 'KillSwitchReleased', { at: T }, by, point ? { point } : {});

describe('roles per stream and event type', () => {
  it('asks the author to plan, an approver to approve, the author or an admin to abort', () => {
    expect(requiredRoles('cut-c1', 'CutPlanned')).toEqual(['author']);
    expect(requiredRoles('cut-c1', 'ApprovalGranted')).toEqual(['approver']);
    expect(requiredRoles('cut-c1', 'CutAborted')).toEqual(['author', 'admin']);
  });

  it('asks an operator or the author for a dry run, an operator or admin for a revert or a continuation, an operator for the rest', () => {
    for (const t of ['DryRunStarted', 'PhaseSimulated', 'DryRunCompleted'])
      expect(requiredRoles('cut-c1', t), t).toEqual(['operator', 'author']);
    for (const t of ['RevertStarted', 'CutReverted', 'RevertFailed', 'RunContinued'])
      expect(requiredRoles('cut-c1', t), t).toEqual(['operator', 'admin']);
    for (const t of ['LiveRunStarted', 'RunResumed', 'BackupTaken', 'LegAWritten', 'RunHalted', 'Whatever'])
      expect(requiredRoles('cut-c1', t), t).toEqual(['operator']);
  });

  it('lets any member engage the kill-switch and only an admin release it; admins write governance; anyone a checkpoint', () => {
    expect(requiredRoles('killswitch', 'KillSwitchEngaged')).toBeNull();
    expect(requiredRoles('killswitch', 'KillSwitchReleased')).toEqual(['admin']);
    expect(requiredRoles('governance', 'GovernanceProposed')).toEqual(['admin']);
    expect(requiredRoles('governance', 'CutPlanned')).toEqual(['admin']);
    expect(requiredRoles('checkpoints', 'CheckpointRecorded')).toBeNull();
    expect(requiredRoles('checkpoints', 'CutPlanned')).toBeNull();
  });

  it('knows the streams cutter writes', () => {
    for (const s of ['governance', 'killswitch', 'checkpoints', 'cut-c1', 'cut-']) expect(knownStream(s), s).toBe(true);
    for (const s of ['cut', 'Cut-c1', 'other', 'governance2', 'xcut-c1', '']) expect(knownStream(s), s).toBe(false);
  });
});

describe('per-event authority', () => {
  it('returns the signer of a valid event, with no violation', () => {
    expect(checkEventTrust(cutPlanned(), gov, nodeCrypto)).toEqual({
      violations: [],
      signer: { name: 'erin', key: fp('erin'), governance: 1 },
    });
  });

  it('names the rule at the event (stream, version, event id, type) and returns no signer', () => {
    const e = signed('cut-c1', 4, 'CutPlanned', {}, 'mallory', { eventId: 'ev-4' });
    expect(checkEventTrust(e, gov, nodeCrypto)).toEqual({
      violations: [
        {
          streamId: 'cut-c1',
          version: 4,
          eventId: 'ev-4',
          type: 'CutPlanned',
          rule: 'unknown-signer',
          message: 'signed by mallory, not a member at governance version 1',
        },
      ],
    });
    const noId = signed('cut-c1', 4, 'CutPlanned', {}, 'mallory', { eventId: null });
    expect(Object.keys(checkEventTrust(noId, gov, nodeCrypto).violations[0]!)).not.toContain('eventId');
  });

  it('names an unsigned event, and a version it names that is not in force', () => {
    expect(
      checkEventTrust({ streamId: 'cut-c1', version: 1, type: 'CutPlanned', data: {} }, gov, nodeCrypto).violations.map(
        (v) => [v.rule, v.message],
      ),
    ).toEqual([['unsigned', 'CutPlanned carries no valid signature']]);
    const future = checkEventTrust(signed('cut-c1', 1, 'CutPlanned', {}, 'erin', { governance: 2 }), gov, nodeCrypto);
    expect(future.violations.map((v) => v.message)).toEqual([
      'signed under governance version 2, which is not in force',
    ]);
    expect(future.signer).toBeUndefined();
  });

  it('names a member lacking the role, still returning the signer', () => {
    const r = checkEventTrust(signed('cut-c1', 1, 'LiveRunStarted', {}, 'alice'), gov, nodeCrypto);
    expect(r.violations.map((v) => [v.rule, v.message])).toEqual([
      ['role', 'alice lacks role operator for LiveRunStarted at governance version 1'],
    ]);
    expect(r.signer?.name).toBe('alice');
    expect(checkEventTrust(signed('cut-c1', 1, 'CutAborted', {}, 'root'), gov, nodeCrypto).violations).toEqual([]); // admin may abort
    expect(
      checkEventTrust(signed('cut-c1', 1, 'CutAborted', {}, 'bob'), gov, nodeCrypto).violations.map((v) => v.message),
    ).toEqual(['bob lacks role author or admin for CutAborted at governance version 1']);
    expect(
      checkEventTrust(signed('killswitch', 1, 'KillSwitchEngaged', {}, 'bob'), gov, nodeCrypto).violations,
    ).toEqual([]); // any member
  });

  describe('under the governance in force at its commit point', () => {
    const v2reg = registry({
      members: {
        ...registry().members,
        erin: { publicKey: pub('erin'), roles: ['author'] },
        olga: { publicKey: pub('mallory'), roles: ['operator'] },
      },
    });
    const g1 = genesis();
    const p2 = proposal(2, 2, v2reg, registry());
    const g = foldGovernance([g1, p2], nodeCrypto);

    it('judges nothing without a full commit point (transaction id and position)', () => {
      const { globalPosition: _g, ...txOnly } = signed('cut-c1', 1, 'LiveRunStarted', {}, 'erin');
      expect(checkEventTrust(txOnly, g, nodeCrypto).violations).toEqual([]);
      const { transactionId: _t, ...posOnly } = signed('cut-c1', 1, 'LiveRunStarted', {}, 'erin');
      expect(checkEventTrust(posOnly, g, nodeCrypto).violations).toEqual([]);
    });

    it('names revoked an event committed before any governance was in force', () => {
      const early = { transactionId: '1', globalPosition: '1' };
      expect(
        checkEventTrust(signed('cut-c1', 1, 'CutPlanned', {}, 'erin', { point: early }), g, nodeCrypto).violations.map(
          (v) => [v.rule, v.message],
        ),
      ).toEqual([
        ['revoked', "erin's key or role was revoked by governance version 0 before this event was committed"],
      ]);
    });

    it('is clean under the version in force, or with no commit point to judge', () => {
      expect(
        checkEventTrust(signed('cut-c1', 1, 'CutPlanned', {}, 'erin', { governance: 2 }), g, nodeCrypto).violations,
      ).toEqual([]);
      expect(
        checkEventTrust(signed('cut-c1', 1, 'LiveRunStarted', {}, 'erin', { point: null }), g, nodeCrypto).violations,
      ).toEqual([]);
      const before = { transactionId: p2.transactionId!, globalPosition: String(Number(p2.globalPosition) - 1) };
      expect(
        checkEventTrust(signed('cut-c1', 1, 'LiveRunStarted', {}, 'erin', { point: before }), g, nodeCrypto).violations,
      ).toEqual([]);
    });

    it('names an old version when the signer still holds the role with that key', () => {
      const r = checkEventTrust(signed('cut-c1', 1, 'CutPlanned', {}, 'erin'), g, nodeCrypto);
      expect(r.violations.map((v) => [v.rule, v.message])).toEqual([
        ['governance', 'signed under governance version 1, but version 2 was in force when it was committed'],
      ]);
      expect(r.signer).toEqual({ name: 'erin', key: fp('erin'), governance: 1 });
    });

    it('names revoked when the role, the key or the member is gone', () => {
      const msg = (by: Name, type: string) =>
        checkEventTrust(signed('cut-c1', 1, type, {}, by), g, nodeCrypto).violations.map((v) => [v.rule, v.message]);
      expect(msg('erin', 'LiveRunStarted')).toEqual([
        ['revoked', "erin's key or role was revoked by governance version 2 before this event was committed"],
      ]); // role gone
      expect(msg('olga', 'LiveRunStarted')).toEqual([
        ['revoked', "olga's key or role was revoked by governance version 2 before this event was committed"],
      ]); // key changed
      const g3 = foldGovernance(
        [g1, proposal(2, 2, registry({ members: { root: registry().members.root! } }), registry())],
        nodeCrypto,
      );
      expect(
        checkEventTrust(signed('killswitch', 1, 'KillSwitchEngaged', {}, 'bob'), g3, nodeCrypto).violations.map(
          (v) => v.rule,
        ),
      ).toEqual(['revoked']); // member gone
      // No role needed, still a member with that key: only the version is wrong.
      expect(
        checkEventTrust(signed('killswitch', 1, 'KillSwitchEngaged', {}, 'bob'), g, nodeCrypto).violations.map(
          (v) => v.rule,
        ),
      ).toEqual(['governance']);
    });
  });
});

describe('the kill-switch stream', () => {
  it('alternates cleanly and keeps its state and commit point per version', () => {
    const ks = [engage(1), release(2), engage(3, 'erin')];
    const r = checkKillSwitchStream(ks, gov, nodeCrypto);
    expect(r.violations).toEqual([]);
    expect(r.timeline.engagedAt).toEqual([false, true, false, true]);
    expect(r.timeline.points).toEqual([
      undefined,
      ...ks.map((e) => ({ transactionId: e.transactionId, globalPosition: e.globalPosition })),
    ]);
    expect(checkKillSwitchStream([], gov, nodeCrypto)).toEqual({
      violations: [],
      timeline: { engagedAt: [false], points: [undefined] },
    });
  });

  it('names engaging twice, releasing a released switch, and a foreign event, keeping the state', () => {
    const ks = [
      release(1),
      engage(2),
      engage(3),
      signed('killswitch', 4, 'CutPlanned', {}, 'alice', { eventId: 'ev-4' }),
      release(5),
    ];
    const r = checkKillSwitchStream(ks, gov, nodeCrypto);
    expect(r.violations.filter((v) => v.rule === 'killswitch').map((v) => [v.version, v.message])).toEqual([
      [1, 'KillSwitchReleased while the kill-switch is already released'],
      [3, 'KillSwitchEngaged while the kill-switch is already engaged'],
      [4, 'not a kill-switch event'],
    ]);
    expect(r.violations.find((v) => v.version === 4)).toMatchObject({
      streamId: 'killswitch',
      eventId: 'ev-4',
      type: 'CutPlanned',
    });
    expect(
      Object.keys(
        checkKillSwitchStream(
          [release(1, 'root')].map(({ eventId: _e, ...e }) => e as Signed),
          gov,
          nodeCrypto,
        ).violations.find((v) => v.rule === 'killswitch')!,
      ),
    ).not.toContain('eventId');
    expect(r.timeline.engagedAt).toEqual([false, false, true, true, true, false]);
  });

  it("checks each event's authority: a release by a non-admin is named", () => {
    const r = checkKillSwitchStream([engage(1), release(2, 'alice'), { ...engage(3), metadata: {} }], gov, nodeCrypto);
    expect(rules(r.violations)).toEqual(['2:role', '3:unsigned']);
  });
});

describe('a cut against governance', () => {
  it('is clean when signed by the enrolled members under governance policy', () => {
    expect(cut([...honest(), runEvent('LiveRunStarted', 4), runEvent('RunContinued', 5), revertEvent(6)])).toEqual([]);
  });

  it('skips the cut checks of an event that is unsigned or does not parse', () => {
    expect(rules(cut([{ ...cutPlanned({ author: 'alice' }), metadata: {} }]))).toEqual(['1:unsigned']);
    expect(rules(cut([signed('cut-c1', 1, 'CutPlanned', { author: 'alice' }, 'erin')]))).toEqual([]);
  });

  describe('the plan', () => {
    it('names a plan whose author is not its signer', () => {
      const v = cut([cutPlanned({ by: 'erin', author: 'bob' })]);
      expect(v.map((x) => [x.rule, x.message])).toEqual([['role', 'the plan names author bob but was signed by erin']]);
    });

    it("names a policy that is not governance's", () => {
      const v = cut([cutPlanned({ policy: { ...POLICY, requiredApprovals: 1 } })]);
      expect(v.map((x) => [x.rule, x.message])).toEqual([
        ['policy', "the cut records a policy that is not governance version 1's"],
      ]);
      expect(
        cut([
          cutPlanned({ policy: { maxRows: 100, requireDryRun: true, approvalTtlSeconds: 3600, requiredApprovals: 2 } }),
        ]),
      ).toEqual([]); // key order does not matter
    });
  });

  describe('approvals', () => {
    const msgs = (events: Signed[]) => cut(events).map((x) => `${x.rule}: ${x.message}`);

    it('names an approval signed by another member than its approver', () => {
      expect(
        msgs([cutPlanned(), cutApproval('alice', 2, { signer: 'bob', keyOf: 'bob', approvalKey: 'alice' })]),
      ).toEqual(['approval: approval names alice but was signed by bob']);
    });

    it('names an approval carrying a key that is not the one enrolled', () => {
      const g2 = foldGovernance(
        [
          genesis(
            registry({
              members: { ...registry().members, mallory: { publicKey: pub('mallory'), roles: ['approver'] } },
            }),
          ),
        ],
        nodeCrypto,
      );
      const carried = cutApproval('mallory', 2);
      const data = { ...(carried.data as object), publicKey: pub('alice') };
      const forged = signed('cut-c1', 2, 'ApprovalGranted', data, 'mallory', { schemaVersion: 2 });
      expect(cut([cutPlanned(), forged], none, g2).map((x) => `${x.rule}: ${x.message}`)).toEqual([
        'approval: approval by mallory carries a key that is not the one enrolled for mallory',
      ]);
    });

    it('names roles claimed that are not enrolled', () => {
      expect(msgs([cutPlanned(), cutApproval('bob', 2, { roles: ['approver', 'owner'] })])).toEqual([
        'approval: approval by bob claims roles approver, owner; enrolled: approver',
      ]);
      expect(msgs([cutPlanned(), cutApproval('alice', 2, { roles: ['owner'] })])).toEqual([]); // a subset is fine
      expect(msgs([cutPlanned(), cutApproval('alice', 2, { roles: ['approver', 'admin'] })])).toEqual([
        'approval: approval by alice claims roles approver, admin; enrolled: approver, owner',
      ]);
    });

    it('names an approval naming another governance version than it was signed under', () => {
      expect(msgs([cutPlanned(), cutApproval('alice', 2, { governanceVersion: 2 })])).toEqual([
        'approval: approval by alice names governance version 2, signed under 1',
      ]);
    });

    it('names an approval signature that does not verify', () => {
      expect(msgs([cutPlanned(), cutApproval('alice', 2, { approvalKey: 'bob' })])).toEqual([
        'approval: approval signature by alice does not verify',
      ]);
    });

    it("names an approval signed with the author's key", () => {
      const g2 = foldGovernance(
        [
          genesis(
            registry({
              members: {
                ...registry().members,
                erin: { publicKey: pub('erin'), roles: ['author', 'operator', 'approver'] },
              },
            }),
          ),
        ],
        nodeCrypto,
      );
      const v = cut([cutPlanned(), cutApproval('erin', 2)], none, g2);
      expect(v.map((x) => `${x.rule}: ${x.message}`)).toEqual([
        `four-eyes: approval signed with the author's key (${fp('erin')})`,
      ]);
      expect(cut([cutApproval('erin', 2)], none, g2)).toEqual([]); // no plan seen: no author to compare
    });

    it('names one key approving under two names', () => {
      const g2 = foldGovernance(
        [
          genesis(
            registry({ members: { ...registry().members, bob: { publicKey: pub('bob'), roles: ['approver'] } } }),
          ),
        ],
        nodeCrypto,
      );
      // The registry forbids one key for two members, so the second name is an unenrolled signer;
      // the key is still counted once, by name.
      const twice = signed('cut-c1', 3, 'ApprovalGranted', cutApproval('alice', 3).data, 'alice', { schemaVersion: 2 });
      expect(cut([cutPlanned(), cutApproval('alice', 2), twice], none, g2)).toEqual([]); // the same approver again is not four-eyes
      const asBob = cutApproval('bob', 3, { keyOf: 'alice' });
      expect(rules(cut([cutPlanned(), cutApproval('alice', 2), asBob], none, g2))).toEqual(['3:unknown-signer']);
    });

    it('names one key approving under two names across governance versions', () => {
      // Version 2 removes alice and enrols bob with alice's key: the registry never holds one key twice.
      const v2reg = registry({
        members: {
          root: registry().members.root!,
          erin: registry().members.erin!,
          bob: { publicKey: pub('alice'), roles: ['approver'] },
        },
      });
      const g1 = genesis();
      const p2 = proposal(2, 2, v2reg, registry());
      const g = foldGovernance([g1, p2], nodeCrypto);
      const before = { transactionId: g1.transactionId!, globalPosition: String(Number(g1.globalPosition) + 1) };
      const plan = cutPlanned({ sign: { point: before } });
      const byAlice = cutApproval('alice', 2, { sign: { point: before } });
      const byBobWithAlicesKey = cutApproval('bob', 3, {
        keyOf: 'alice',
        governanceVersion: 2,
        sign: { governance: 2 },
      });
      expect(
        cut([plan, byAlice, byBobWithAlicesKey], none, g).map((x) => `${x.version}:${x.rule}: ${x.message}`),
      ).toEqual(['3:four-eyes: approval by bob signed with the key that already approved as alice']);
      // The same approver approving again with the same key is not two names.
      const again = cutApproval('alice', 3, { sign: { point: before } });
      expect(cut([plan, byAlice, again], none, g)).toEqual([]);
    });

    it('names an approval bound to another cut or plan', () => {
      expect(msgs([cutPlanned(), cutApproval('alice', 2, { cutId: 'c2' })])).toEqual([
        'approval: approval bound to another cut or plan',
      ]);
      expect(msgs([cutPlanned(), cutApproval('alice', 2, { planHash: '9'.repeat(64) })])).toEqual([
        'approval: approval bound to another cut or plan',
      ]);
      expect(msgs([cutApproval('alice', 2, { cutId: 'c2' })])).toEqual([]); // no plan seen: nothing to bind to
    });
  });

  describe('lock evidence against the kill-switch stream', () => {
    it('names a kill-switch version the stream does not have', () => {
      const ks = checkKillSwitchStream([engage(1), release(2)], gov, nodeCrypto).timeline;
      const v = cut([...honest(), runEvent('LiveRunStarted', 4, { locks: { killSwitchVersion: 3 } })], ks);
      expect(v.map((x) => [x.rule, x.message])).toEqual([
        ['lock-evidence', 'evidence names kill-switch version 3; the kill-switch stream has 2 event(s)'],
      ]);
      expect(cut([...honest(), runEvent('LiveRunStarted', 4, { locks: { killSwitchVersion: 2 } })], ks)).toEqual([]);
      expect(
        rules(cut([...honest(), runEvent('LiveRunStarted', 4, { locks: { killSwitchVersion: 1 } })], none)),
      ).toEqual(['4:lock-evidence']);
    });

    it('names evidence that says released at a version where the stream was engaged', () => {
      const ks = checkKillSwitchStream([engage(1), release(2)], gov, nodeCrypto).timeline;
      for (const t of ['LiveRunStarted', 'RunResumed', 'RunContinued'] as const) {
        expect(
          cut([...honest(), runEvent(t, 4, { locks: { killSwitchVersion: 1 } })], ks).map((x) => x.message),
          t,
        ).toEqual(['evidence says the kill-switch was released at version 1; it was engaged']);
      }
      expect(rules(cut([...honest(), revertEvent(4, { locks: { killSwitchVersion: 1 } })], ks))).toEqual([
        '4:lock-evidence',
      ]);
    });

    it('takes evidence of a closed kill-switch lock at its word (the machine judges closed locks)', () => {
      const ks = checkKillSwitchStream([engage(1)], gov, nodeCrypto).timeline;
      expect(
        cut([...honest(), runEvent('LiveRunStarted', 4, { locks: { killSwitch: false, killSwitchVersion: 9 } })], ks),
      ).toEqual([]);
    });

    it('names an event committed after the switch was engaged, whatever version its evidence names', () => {
      const p = (tx: number, pos: number) => ({ transactionId: String(tx), globalPosition: String(pos) });
      // Genesis recorded without a commit point is in force at every point, small ones included.
      const gov = foldGovernance([genesis(registry(), 'root', { point: null })], nodeCrypto);
      const cut = (events: Signed[], ks: KillSwitchTimeline) => checkCutTrust(events, gov, nodeCrypto, ks);
      const ks = checkKillSwitchStream(
        [engage(1, 'alice', p(90, 90)), release(2, 'root', p(100, 200)), engage(3, 'alice', p(100, 300))],
        gov,
        nodeCrypto,
      ).timeline;
      const at = (point: { transactionId: string; globalPosition: string } | null) =>
        cut([...honest(), runEvent('LiveRunStarted', 4, { locks: { killSwitchVersion: 2 }, sign: { point } })], ks).map(
          (x) => x.message,
        );
      const engaged = ['the kill-switch was engaged when LiveRunStarted was committed'];
      expect(at(p(80, 80))).toEqual([]); // before any engagement
      expect(at(p(90, 90))).toEqual([]); // the engagement's own point is not before
      expect(at(p(95, 95))).toEqual(engaged);
      expect(at(p(100, 150))).toEqual(engaged); // same tx as the release, before it
      expect(at(p(100, 250))).toEqual([]); // after the release
      expect(at(p(100, 350))).toEqual(engaged); // after the second engagement
      expect(at(p(101, 1))).toEqual(engaged); // 101 > 100 as numbers
      expect(at(null)).toEqual([]); // no commit point: nothing to compare
      const tenfold = checkKillSwitchStream(
        [engage(1, 'alice', p(9, 9)), release(2, 'root', p(10, 10))],
        gov,
        nodeCrypto,
      ).timeline;
      expect(
        cut(
          [...honest(), runEvent('LiveRunStarted', 4, { locks: { killSwitchVersion: 2 }, sign: { point: p(11, 11) } })],
          tenfold,
        ),
      ).toEqual([]); // "11" > "10" > "9" numerically
      expect(
        cut(
          [...honest(), runEvent('LiveRunStarted', 4, { locks: { killSwitchVersion: 2 }, sign: { point: p(9, 10) } })],
          tenfold,
        ).map((x) => x.rule),
      ).toEqual(['lock-evidence']);
      // A timeline version with no recorded point never counts as before.
      expect(
        cut(
          [...honest(), runEvent('LiveRunStarted', 4, { locks: { killSwitchVersion: 0 }, sign: { point: p(5, 5) } })],
          { engagedAt: [false, true], points: [undefined, undefined] },
        ),
      ).toEqual([]);
    });
  });

  describe('a forced revert', () => {
    it('needs an admin', () => {
      expect(cut([...honest(), revertEvent(4, { force: true })]).map((x) => [x.rule, x.message])).toEqual([
        ['role', 'a forced revert signed by erin, who is not an admin'],
      ]);
      expect(cut([...honest(), revertEvent(4, { force: true, by: 'root' })])).toEqual([]);
      expect(cut([...honest(), revertEvent(4, { force: false })])).toEqual([]);
    });
  });

  describe('approvals counted in run evidence', () => {
    it('names an approver counted who is not enrolled, not an approver, or approved with another key', () => {
      const msg = (name: string) =>
        `approval by ${name} counted, but ${name} was no longer an enrolled approver with that key`;
      expect(
        cut([...honest(), runEvent('LiveRunStarted', 4, { approvals: ['alice', 'bob', 'mallory', 'erin'] })]).map(
          (x) => x.message,
        ),
      ).toEqual([msg('mallory'), msg('erin')]);
      expect(cut([...honest(), runEvent('RunResumed', 4, { approvals: ['mallory'] })]).map((x) => x.rule)).toEqual([
        'revoked',
      ]);
      expect(cut([...honest(), runEvent('RunContinued', 4, { approvals: ['erin'] })]).map((x) => x.rule)).toEqual([
        'revoked',
      ]);
      // The key that approved is not the key enrolled (the approval itself is named too).
      const g2 = foldGovernance(
        [
          genesis(
            registry({ members: { ...registry().members, olga: { publicKey: pub('olga'), roles: ['approver'] } } }),
          ),
        ],
        nodeCrypto,
      );
      const byOtherKey = cutApproval('olga', 2, { keyOf: 'mallory' });
      expect(
        cut([cutPlanned(), byOtherKey, runEvent('LiveRunStarted', 3, { approvals: ['olga'] })], none, g2).map(
          (x) => `${x.version}:${x.rule}`,
        ),
      ).toEqual(['2:unknown-signer']);
    });

    it('names approvers counted whose key was rotated before the run was committed', () => {
      const v2reg = registry({
        members: { ...registry().members, alice: { publicKey: pub('mallory'), roles: ['approver', 'owner'] } },
      });
      const g1 = genesis();
      const p2 = proposal(2, 2, v2reg, registry());
      const g = foldGovernance([g1, p2], nodeCrypto);
      const before = { transactionId: g1.transactionId!, globalPosition: String(Number(g1.globalPosition) + 1) };
      const early = [
        cutPlanned({ sign: { point: before } }),
        cutApproval('alice', 2, { sign: { point: before } }),
        cutApproval('bob', 3, { sign: { point: before } }),
      ];
      expect(
        cut([...early, runEvent('LiveRunStarted', 4, { sign: { governance: 2 } })], none, g).map((x) => x.message),
      ).toEqual(['approval by alice counted, but alice was no longer an enrolled approver with that key']);
    });

    it('names approvers counted by a run committed before any governance was in force', () => {
      const early = { transactionId: '1', globalPosition: '1' };
      const v = cut([...honest(), runEvent('LiveRunStarted', 4, { approvals: ['alice'], sign: { point: early } })]);
      expect(v.map((x) => x.rule)).toEqual(['revoked', 'revoked']); // the signer's authority, and alice's approval
    });

    it('judges them by the governance in force when the run was committed', () => {
      const v2reg = registry({
        members: { ...registry().members, bob: { publicKey: pub('bob'), roles: ['operator'] } },
      });
      const g1 = genesis();
      const p2 = proposal(2, 2, v2reg, registry());
      const g = foldGovernance([g1, p2], nodeCrypto);
      const before = { transactionId: g1.transactionId!, globalPosition: String(Number(g1.globalPosition) + 1) };
      const early = [
        cutPlanned({ sign: { point: before } }),
        cutApproval('alice', 2, { sign: { point: before } }),
        cutApproval('bob', 3, { sign: { point: before } }),
      ];
      expect(cut([...early, runEvent('LiveRunStarted', 4, { sign: { point: before } })], none, g)).toEqual([]);
      const late = runEvent('LiveRunStarted', 4, { sign: { governance: 2 } });
      expect(cut([...early, late], none, g).map((x) => x.message)).toEqual([
        'approval by bob counted, but bob was no longer an enrolled approver with that key',
      ]);
      // Without a commit point, the version the run was signed under.
      expect(
        cut([...early, runEvent('LiveRunStarted', 4, { sign: { governance: 2, point: null } })], none, g).map(
          (x) => x.rule,
        ),
      ).toEqual(['revoked']);
      expect(cut([...early, runEvent('LiveRunStarted', 4, { sign: { point: null } })], none, g)).toEqual([]);
    });

    it('are not asked of a revert', () => {
      expect(cut([...honest(), revertEvent(4)])).toEqual([]);
    });
  });

  it('puts each violation at its event', () => {
    const e = cutPlanned({ by: 'erin', author: 'bob', sign: { eventId: 'ev-1' } });
    expect(cut([e])).toEqual([
      {
        streamId: 'cut-c1',
        version: 1,
        eventId: 'ev-1',
        type: 'CutPlanned',
        rule: 'role',
        message: 'the plan names author bob but was signed by erin',
      },
    ]);
    const noId = cutPlanned({ by: 'erin', author: 'bob', sign: { eventId: null } });
    expect(Object.keys(cut([noId])[0]!)).not.toContain('eventId');
  });
});
