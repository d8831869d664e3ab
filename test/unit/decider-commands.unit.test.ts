/**
 * Decider specs for the decisions the runner made before the one command handler: which event a
 * command records (start, resume or continue a live run; which event a phase's outcome records;
 * start or take up a revert; whether a dry run passed), every refusal with its reasons, and the
 * governance and kill-switch deciders. Commands carry their run ids, times and evidence.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DomainEvent, LiveEvidence, Registry } from '../../events/index.js';
import { decide, decideGovernance, decideKillSwitch, foldKillSwitch, type CutCommand } from '../../src/domain/index.js';
import { emptyGovernance, type GovernanceState } from '../../src/domain/governance.js';
import { keyFingerprint, verifySignature } from '../../src/crypto/signatures.js';
import { publicKeyText } from '../../src/crypto/approvals.js';
import { given } from '../support/decider-spec.js';
import {
  approval,
  at,
  dryRun,
  fullLive,
  halted,
  HASH,
  liveStart,
  OPEN,
  phaseEvents,
  planned,
  revertStart,
} from '../support/cut-events.js';

const P = phaseEvents();
const approved = [planned(), approval('alice'), approval('bob', 2), ...dryRun()];
const evidence: LiveEvidence = { at: at(10), locks: OPEN, approvals: ['alice', 'bob'] };
const runLive = (refusals: string[] = [], runId = 'l1'): CutCommand => ({
  type: 'RunLive',
  runId,
  at: at(10),
  evidence,
  refusals,
});
const live = { runId: 'l1', planHash: HASH, executor: 'postgres-table' as const };
const dataOf = (e: DomainEvent | undefined) => e!.data as Record<string, unknown>;

describe('RunLive: start, resume or continue — the decider says which', () => {
  it('starts a new run on an approved cut, under the run id the command brings', () =>
    given(approved).when(runLive()).then([liveStart()]));
  it('resumes a halted run under its own run id (RunResumed), whatever id the command brings', () =>
    given([...approved, liveStart(), P.backup!, halted('legA')])
      .when(runLive([], 'l-new'))
      .then([{ type: 'RunResumed', data: { ...live, at: at(10), evidence } }]));
  it('continues a run that crashed mid-phase (RunContinued), before anything else is written', () =>
    given([...approved, liveStart(), P.backup!])
      .when(runLive([], 'l-new'))
      .then([{ type: 'RunContinued', data: { ...live, at: at(10), evidence } }]));
  it('refuses with every call-time reason, naming a start', () =>
    given(approved)
      .when(runLive(['lock 3 closed: the kill-switch is engaged', 'approval by bob: expired']))
      .thenThrows('GovernanceRefused', /live run of cut c1 refused[\s\S]*lock 3 closed[\s\S]*expired/));
  it('refuses a continue with the call-time reasons, naming the interrupted run', () =>
    given([...approved, liveStart(), P.backup!])
      .when(runLive(['lock 2 closed: CUTTER_EXECUTION_ENABLED is not 1 in the environment']))
      .thenThrows('GovernanceRefused', /resuming the interrupted live run of cut c1 refused[\s\S]*lock 2/));
  it('refuses a finished cut: nothing to run live', () =>
    given([...approved, ...fullLive()])
      .when(runLive())
      .thenThrows('IllegalTransition', /completed: nothing to run live/));
  it('leaves the machine the last word: a start without the dry run the policy requires is refused', () =>
    given([planned(), approval('alice'), approval('bob', 2)])
      .when(runLive())
      .thenThrows('GovernanceRefused', /dry run required/));
});

describe('RecordPhase: the event a phase outcome records', () => {
  const running = [...approved, liveStart()];
  const { runId: _r, planHash: _p, executor: _e, at: _a, ...backup } = dataOf(P.backup);
  it('records BackupTaken with the run in progress', () =>
    given(running)
      .when({ type: 'RecordPhase', at: at(11), phase: 'backup', result: backup as never })
      .then([P.backup!]));
  it('refuses an outcome for a phase the run is not at, naming the one it is at', () =>
    given(running)
      .when({
        type: 'RecordPhase',
        at: at(11),
        phase: 'legA',
        result: { inserted: 1, updated: 0, deleted: 0, digest: 'c'.repeat(64), receipt: 'r1' },
      })
      .thenThrows('IllegalTransition', /legA phase is not the one to record \(backup is\)/));
  const atVerify = [...running, P.backup!, P.legA!, P.legB!];
  it('records WriteVerified when the rows match', () =>
    given(atVerify)
      .when({
        type: 'RecordPhase',
        at: at(11),
        phase: 'verify',
        result: { ok: true, expectedHash: 'c'.repeat(64), actualHash: 'c'.repeat(64), receipt: 'r3' },
      })
      .then([P.verify!]));
  it('records VerifyFailed when they do not, with the mismatches', () =>
    given(atVerify)
      .when({
        type: 'RecordPhase',
        at: at(11),
        phase: 'verify',
        result: {
          ok: false,
          expectedHash: 'c'.repeat(64),
          actualHash: 'd'.repeat(64),
          mismatches: [{ key: 'A', reason: 'differs' }],
        },
      })
      .then([
        {
          type: 'VerifyFailed',
          data: {
            ...live,
            at: at(11),
            expectedHash: 'c'.repeat(64),
            actualHash: 'd'.repeat(64),
            mismatches: [{ key: 'A', reason: 'differs' }],
          },
        },
      ]));
  it('refuses any phase outcome when no run is in progress', () =>
    given(approved)
      .when({
        type: 'RecordPhase',
        at: at(11),
        phase: 'enact',
        result: { skipped: false, rows: 1, receipt: 'r4' },
      })
      .thenThrows('IllegalTransition', /enact phase is not the one to record$/));
});

describe('HaltRun and FailPhase', () => {
  const running = [...approved, liveStart(), P.backup!];
  it('halts at the boundary with the locks as read', () =>
    given(running)
      .when({
        type: 'HaltRun',
        phase: 'legA',
        at: at(12),
        reason: 'kill-switch engaged',
        locks: { ...OPEN, killSwitch: false, killSwitchVersion: 1 },
      })
      .then([halted('legA')]));
  it('records a failed phase with its error', () =>
    given(running)
      .when({ type: 'FailPhase', phase: 'legA', at: at(12), error: { code: 'X', message: 'boom' } })
      .then([
        { type: 'PhaseFailed', data: { ...live, at: at(12), phase: 'legA', error: { code: 'X', message: 'boom' } } },
      ]));
});

describe('dry runs: the decider says whether one passed', () => {
  const base = [planned(), approval('alice'), approval('bob', 2)];
  const complete = (after: string): CutCommand => ({
    type: 'CompleteDryRun',
    runId: 'd1',
    at: at(3),
    phases: (['backup', 'legA', 'legB', 'verify', 'enact'] as const).map((phase) => ({
      phase,
      digest: 'b'.repeat(64),
    })),
    diff: { inserts: 1, updates: 0, deletes: 0, unchanged: 0 },
    expectedPostImageHash: 'c'.repeat(64),
    nonMutation: { preImageHashBefore: 'a'.repeat(64), preImageHashAfter: after },
  });
  it('starts one with the simulator as executor', () =>
    given(base)
      .when({ type: 'StartDryRun', runId: 'd1', at: at(3) })
      .then([dryRun()[0]!]));
  it('passes when the rows were the same before and after', () =>
    given([...base, dryRun()[0]!])
      .when(complete('a'.repeat(64)))
      .then(dryRun().slice(1)));
  it('fails when they changed', () =>
    given([...base, dryRun()[0]!])
      .when(complete('d'.repeat(64)))
      .then(dryRun('d1', 3, false).slice(1)));
});

describe('Revert: start one, or take up the interrupted one', () => {
  const done = [...approved, ...fullLive()];
  const revert = (o: Partial<Extract<CutCommand, { type: 'Revert' }>> = {}): CutCommand => ({
    type: 'Revert',
    runId: 'rv1',
    at: at(20),
    force: false,
    signer: { name: 'alice', admin: false },
    locks: OPEN,
    refusals: [],
    ...o,
  });
  it('starts a revert of a completed cut, bound to the backup the run took', () =>
    given(done).when(revert()).then([revertStart()]));
  it('takes up an interrupted revert under its own run id, evidence first', () =>
    given([...done, revertStart()])
      .when(revert({ runId: 'rv-new' }))
      .then([
        {
          type: 'RunContinued',
          data: { ...live, runId: 'rv1', at: at(20), evidence: { at: at(20), locks: OPEN, approvals: [] } },
        },
      ]));
  it('refuses a forced revert not signed by an admin, new or resumed', () => {
    given(done)
      .when(revert({ force: true }))
      .thenThrows('GovernanceRefused', /must be signed by an admin \(alice is not one\)/);
    given([...done, revertStart()])
      .when(revert({ force: true }))
      .thenThrows('GovernanceRefused', /must be signed by an admin/);
  });
  it('records a forced revert signed by an admin', () => {
    const [e] = decide(revert({ force: true, signer: { name: 'root', admin: true } }), given(done).state);
    expect(dataOf(e).force).toBe(true);
  });
  it('refuses with the closed locks, naming a resume as such', () => {
    given(done)
      .when(revert({ refusals: ['lock 1 closed: execution.enabled is not true in the config'] }))
      .thenThrows('GovernanceRefused', /^revert of cut c1 refused[\s\S]*lock 1/);
    given([...done, revertStart()])
      .when(revert({ refusals: ['lock 3 closed: the kill-switch is engaged'] }))
      .thenThrows('GovernanceRefused', /resuming the interrupted revert of cut c1 refused[\s\S]*lock 3/);
  });
  it('refuses a cut that never ran (no backup): the machine has the last word', () =>
    given(approved)
      .when(revert())
      .thenThrows('IllegalTransition', /revert needs a finished/));
  it('records the restore with the pre-image hash of the backup the run took', () =>
    given([...done, revertStart()])
      .when({ type: 'RecordRevert', at: at(21), restoredHash: 'a'.repeat(64), rows: 1, receipt: 'r5' })
      .then([
        {
          type: 'CutReverted',
          data: {
            ...live,
            runId: 'rv1',
            at: at(21),
            restoredHash: 'a'.repeat(64),
            rows: 1,
            receipt: 'r5',
            backupPreImageHash: 'a'.repeat(64),
          },
        },
      ]));
  it('records a failed revert', () =>
    given([...done, revertStart()])
      .when({ type: 'FailRevert', at: at(21), error: { code: 'X', message: 'boom' } })
      .then([
        { type: 'RevertFailed', data: { ...live, runId: 'rv1', at: at(21), error: { code: 'X', message: 'boom' } } },
      ]));
});

describe('the governance decider', () => {
  const crypto = { verify: verifySignature, fingerprint: keyFingerprint };
  const newKey = () => publicKeyText(generateKeyPairSync('ed25519').privateKey);
  const rootKey = newKey();
  const registry = {
    members: { root: { publicKey: rootKey, roles: ['admin'] }, ann: { publicKey: newKey(), roles: ['approver'] } },
    admins: { threshold: 1 },
    policy: { requiredApprovals: 2, approvalTtlSeconds: 3600, requireDryRun: true, maxRows: 1000 },
  } as unknown as Registry;
  const root = { name: 'root', fingerprint: keyFingerprint(rootKey) };
  const apply = (signer = root): Parameters<typeof decideGovernance>[0] => ({
    type: 'ApplyGovernance',
    registry,
    source: 'gov.yaml',
    at: at(0),
    signer,
  });
  it('records genesis signed by an admin the file lists, with the key it enrols', () => {
    const [e] = decideGovernance(apply(), emptyGovernance(), crypto);
    expect(e).toMatchObject({ type: 'GovernanceProposed', data: { version: 1, previous: null, at: at(0) } });
  });
  it('refuses genesis by a member who is not an admin in the file', () =>
    expect(() => decideGovernance(apply({ name: 'ann', fingerprint: 'x' }), emptyGovernance(), crypto)).toThrow(
      /genesis must be signed by an admin it lists: ann is not an admin in gov.yaml/,
    ));
  it('refuses genesis signed with another key than the file enrols', () =>
    expect(() =>
      decideGovernance(apply({ name: 'root', fingerprint: 'SHA256:other' }), emptyGovernance(), crypto),
    ).toThrow(/is not the key gov.yaml enrols for root/));
  const inForce: GovernanceState = {
    ...emptyGovernance(),
    streamVersion: 1,
    versions: [{ version: 1, registry, registryHash: 'h1', effectiveAt: undefined }],
  };
  it('proposes the next version of a changed registry, linked to the one in force', () => {
    const [e] = decideGovernance(apply(), inForce, crypto);
    expect(e).toMatchObject({ type: 'GovernanceProposed', data: { version: 2, previous: 'h1' } });
  });
  it('refuses a file identical to the version in force (InvalidInput)', () => {
    const same = {
      ...inForce,
      versions: [
        {
          ...inForce.versions[0]!,
          registryHash: decideGovernance(apply(), emptyGovernance(), crypto)[0]!.data.registryHash,
        },
      ],
    };
    expect(() => decideGovernance(apply(), same, crypto)).toThrow(/identical to version 1 in force/);
  });
  it('approves only the pending version, once per admin key', () => {
    const pending: GovernanceState = {
      ...inForce,
      pending: { version: 2, registry, registryHash: 'h2', proposer: 'root', signers: new Set([root.fingerprint]) },
    };
    const approve = (version: number, signer = { name: 'bea', fingerprint: 'SHA256:bea' }) =>
      decideGovernance({ type: 'ApproveGovernance', version, at: at(1), signer }, pending, crypto);
    expect(approve(2)).toEqual([{ type: 'GovernanceApproved', data: { version: 2, registryHash: 'h2', at: at(1) } }]);
    expect(() => approve(3)).toThrow(/no proposal of governance version 3 is pending \(pending: 2\)/);
    expect(() => approve(2, root)).toThrow(/root has already signed governance version 2/);
    expect(() =>
      decideGovernance({ type: 'ApproveGovernance', version: 2, at: at(1), signer: root }, inForce, crypto),
    ).toThrow(/no proposal of governance version 2 is pending$/);
  });
});

describe('the kill-switch decider', () => {
  it('engages when released and releases when engaged, refusing the same twice', () => {
    const released = foldKillSwitch([]);
    const [engaged] = decideKillSwitch({ action: 'engage', reason: 'incident', at: at(0) }, released);
    expect(engaged).toEqual({ type: 'KillSwitchEngaged', data: { reason: 'incident', at: at(0) } });
    const on = foldKillSwitch([engaged!]);
    expect(() => decideKillSwitch({ action: 'engage', reason: 'again', at: at(1) }, on)).toThrow(
      /already engaged \(incident\)/,
    );
    expect(decideKillSwitch({ action: 'release', at: at(2) }, on)).toEqual([
      { type: 'KillSwitchReleased', data: { at: at(2) } },
    ]);
    expect(() => decideKillSwitch({ action: 'release', at: at(3) }, released)).toThrow(/already released/);
  });
});
