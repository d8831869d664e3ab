/** Builders for a cut's domain events with real Ed25519 approvals, for decider and replay specs. */
import { generateKeyPairSync, sign } from 'node:crypto';
import { approvalPayload } from '../../machines/approvals.js';
import { planHash, type CutPlan, type DomainEvent, type LockEvidence } from '../../events/index.js';
import { publicKeyText } from '../../src/crypto/approvals.js';

export const plan: CutPlan = {
  id: 'c1',
  target: 'kb',
  author: 'erin',
  reason: 'r',
  changes: [{ upsert: { id: 'A', title: 't', body: 'b' } }],
};
export const HASH = planHash(plan);
export const T0 = Date.parse('2026-11-25T10:00:00.000Z');
export const at = (s = 0) => new Date(T0 + s * 1000).toISOString();
export const OPEN: LockEvidence = { config: true, env: true, killSwitch: true, killSwitchVersion: 0 };

const keys = Object.fromEntries(
  ['alice', 'bob', 'erin', 'mallory'].map((n) => [n, generateKeyPairSync('ed25519').privateKey]),
);

export const planned = (
  policy: Partial<{
    requiredApprovals: number;
    requireDryRun: boolean;
    approvalTtlSeconds: number;
    roles: string[];
  }> = {},
): DomainEvent => ({
  type: 'CutPlanned',
  data: {
    cutId: 'c1',
    plan,
    planHash: HASH,
    target: 'kb',
    table: 'public.documents',
    author: 'erin',
    reason: 'r',
    rowCount: 1,
    policy: { requiredApprovals: 2, approvalTtlSeconds: 3600, requireDryRun: true, maxRows: 100, ...policy },
    precheck: { preImageHash: 'a'.repeat(64), existing: 0, absent: 1 },
    at: at(0),
  },
});

export const approval = (
  who: string,
  t = 1,
  opts: { planHash?: string; roles?: string[]; forgeWith?: string } = {},
): DomainEvent => {
  const p = { cutId: 'c1', planHash: opts.planHash ?? HASH, decision: 'approve' as const, at: at(t) };
  const signer = keys[opts.forgeWith ?? who]!;
  return {
    type: 'ApprovalGranted',
    data: {
      ...p,
      approver: who,
      roles: opts.roles ?? ['dba'],
      signature: sign(null, Buffer.from(approvalPayload(p)), signer).toString('base64'),
      publicKey: publicKeyText(keys[who]!),
    },
  };
};

const sim = { planHash: HASH, executor: 'simulator' as const };
export const dryRun = (runId = 'd1', t = 3, passed = true): DomainEvent[] => [
  { type: 'DryRunStarted', data: { ...sim, runId, at: at(t) } },
  ...(['backup', 'legA', 'legB', 'verify', 'enact'] as const).map((phase): DomainEvent => ({
    type: 'PhaseSimulated',
    data: { ...sim, runId, phase, digest: 'b'.repeat(64), at: at(t) },
  })),
  {
    type: 'DryRunCompleted',
    data: {
      ...sim,
      runId,
      at: at(t),
      passed,
      diff: { inserts: 1, updates: 0, deletes: 0, unchanged: 0 },
      expectedPostImageHash: 'c'.repeat(64),
      nonMutation: { preImageHashBefore: 'a'.repeat(64), preImageHashAfter: passed ? 'a'.repeat(64) : 'd'.repeat(64) },
    },
  },
];

const live = (runId: string) => ({ runId, planHash: HASH, executor: 'postgres-table' as const });
export const liveStart = (runId = 'l1', t = 10, locks: LockEvidence = OPEN): DomainEvent => ({
  type: 'LiveRunStarted',
  data: { ...live(runId), at: at(t), evidence: { at: at(t), locks, approvals: ['alice', 'bob'] } },
});
export const phaseEvents = (runId = 'l1', t = 11): Record<string, DomainEvent> => ({
  backup: {
    type: 'BackupTaken',
    data: {
      ...live(runId),
      at: at(t),
      backupId: 'bk-1',
      plaintextHash: 'e'.repeat(64),
      preImageHash: 'a'.repeat(64),
      rowCount: 0,
      recipients: ['F'],
      receipt: 'r0',
    },
  },
  legA: {
    type: 'LegAWritten',
    data: { ...live(runId), at: at(t), inserted: 1, updated: 0, deleted: 0, digest: 'c'.repeat(64), receipt: 'r1' },
  },
  legB: {
    type: 'LegBRecorded',
    data: { ...live(runId), at: at(t), ledgerId: '1', digest: 'f'.repeat(64), receipt: 'r2' },
  },
  verify: {
    type: 'WriteVerified',
    data: { ...live(runId), at: at(t), expectedHash: 'c'.repeat(64), actualHash: 'c'.repeat(64), receipt: 'r3' },
  },
  enact: { type: 'LifecycleEnacted', data: { ...live(runId), at: at(t), skipped: false, rows: 1, receipt: 'r4' } },
});
export const fullLive = (runId = 'l1'): DomainEvent[] => [liveStart(runId), ...Object.values(phaseEvents(runId))];
export const halted = (phase: 'legA' | 'legB' = 'legA', runId = 'l1'): DomainEvent => ({
  type: 'RunHalted',
  data: {
    ...live(runId),
    at: at(12),
    phase,
    reason: 'kill-switch engaged',
    locks: { ...OPEN, killSwitch: false, killSwitchVersion: 1 },
  },
});
export const resumed = (runId = 'l1', locks: LockEvidence = OPEN): DomainEvent => ({
  type: 'RunResumed',
  data: { ...live(runId), at: at(13), evidence: { at: at(13), locks, approvals: ['alice', 'bob'] } },
});
export const revertStart = (runId = 'rv1', locks: LockEvidence = OPEN): DomainEvent => ({
  type: 'RevertStarted',
  data: { ...live(runId), at: at(20), backupId: 'bk-1', force: false, evidence: { at: at(20), locks } },
});
export const reverted = (runId = 'rv1'): DomainEvent => ({
  type: 'CutReverted',
  data: {
    ...live(runId),
    at: at(21),
    restoredHash: 'a'.repeat(64),
    backupPreImageHash: 'a'.repeat(64),
    rows: 1,
    receipt: 'r5',
  },
});

/** A happy history: planned, two approvals, a dry run, a full live run. */
export const happy = (): DomainEvent[] => [
  planned(),
  approval('alice'),
  approval('bob', 2),
  ...dryRun(),
  ...fullLive(),
];
