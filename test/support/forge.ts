/**
 * What an insider with store credentials can do without cutter's commands: append events through
 * the library's bare `openStore(url).append`, store blobs and backups through the same library.
 * Approvals are signed with the workspace's real approver keys (a forger who holds none could only
 * write approvals the runner refuses anyway). For attack tests only.
 */
import { readFileSync } from 'node:fs';
import { canonicalJson, sha256 } from '../../events/canonical.js';
import { planHash as hashPlan, toStorable, type CutPlan, type DomainEvent } from '../../events/index.js';
import { MACHINE_VERSION } from '../../machines/cut.js';
import { headerLine, entryLine } from '../../src/adapters/backup-format.js';
import { encryptionStream } from '../../src/crypto/backup.js';
import { publicKeyText, signApproval } from '../../src/crypto/approvals.js';
import { backupKeyPaths, loadApproverKey } from '../../src/crypto/keys.js';
import { recordBackup } from '../../src/store/backups.js';
import { openStore } from '../../src/index.js';
import { putBlob } from '../../src/store/blobs.js';
import { connect } from '../../src/store/connection.js';
import type { TestWorkspace } from './workspace.js';

export const POLICY = { requiredApprovals: 2, approvalTtlSeconds: 3600, requireDryRun: true, maxRows: 1_000_000 };
export const OPEN = { config: true, env: true, killSwitch: true, killSwitchVersion: 0 };
const LIVE = 'postgres-table' as const;
const SIM = 'simulator' as const;

/** Appends `events` to cut `cutId`'s stream through the bare library API (no decider, no projection). */
export async function appendBare(ws: TestWorkspace, cutId: string, events: DomainEvent[]): Promise<void> {
  const store = await openStore(ws.store.url);
  try {
    const current = await store.readStream(`cut-${cutId}`);
    await store.append(
      `cut-${cutId}`,
      events.map((e) => toStorable(e, { machineVersion: MACHINE_VERSION })),
      {
        expectedVersion: current.length === 0 ? 'no_stream' : current.length,
      },
    );
  } finally {
    await store.close();
  }
}

/** Writes through the store database directly, once the store's schema exists. */
export async function withStoreDb<T>(
  ws: TestWorkspace,
  fn: (db: ReturnType<typeof connect>) => Promise<T>,
): Promise<T> {
  await (await openStore(ws.store.url)).close();
  const db = connect(ws.store.url, { poolSize: 1 });
  try {
    return await fn(db);
  } finally {
    await db.dispose();
  }
}

/** The cut's stored events, read through the bare library API. */
export async function readCut(ws: TestWorkspace, cutId: string) {
  const store = await openStore(ws.store.url);
  try {
    return await store.readStream(`cut-${cutId}`);
  } finally {
    await store.close();
  }
}

/** An approval signed with the workspace's real key of `who`. */
export async function signedApproval(
  ws: TestWorkspace,
  cutId: string,
  planHash: string,
  who: string,
  at: string,
): Promise<DomainEvent> {
  const key = await loadApproverKey(who, { dir: ws.keys });
  const p = {
    cutId,
    planHash,
    decision: 'approve' as const,
    at,
    approver: who,
    roles: ['approver', 'dba'],
    governanceVersion: 1,
  };
  return { type: 'ApprovalGranted', data: { ...p, signature: signApproval(key, p), publicKey: publicKeyText(key) } };
}

/**
 * A cut up to `approved` with a passing dry run, every event as cutter would write it except that
 * CutPlanned records `recorded` as its plan while claiming `hash` (default: the honest hash).
 * Times start at `t0` (ms) and advance a second per step.
 */
export async function forgedApprovedCut(
  ws: TestWorkspace,
  plan: CutPlan,
  opts: { recorded?: unknown; hash?: string; t0?: number } = {},
): Promise<{ events: DomainEvent[]; planHash: string; at: (s: number) => string }> {
  const hash = opts.hash ?? hashPlan(plan);
  const t0 = opts.t0 ?? Date.now() - 60_000;
  const at = (s: number) => new Date(t0 + s * 1000).toISOString();
  const runId = 'dry-forged';
  const sim = { runId, planHash: hash, executor: SIM };
  const events: DomainEvent[] = [
    {
      type: 'CutPlanned',
      data: {
        cutId: plan.id,
        plan: (opts.recorded ?? plan) as never,
        planHash: hash,
        target: plan.target,
        table: 'public.documents',
        author: plan.author,
        reason: plan.reason,
        rowCount: plan.changes?.length ?? plan.changeSet?.count ?? 0,
        policy: POLICY,
        precheck: { preImageHash: 'a'.repeat(64), existing: 1, absent: 0 },
        at: at(0),
      },
    },
    await signedApproval(ws, plan.id, hash, 'alice', at(1)),
    await signedApproval(ws, plan.id, hash, 'bob', at(2)),
    { type: 'DryRunStarted', data: { ...sim, at: at(3) } },
    ...(['backup', 'legA', 'legB', 'verify', 'enact'] as const).map((phase): DomainEvent => ({
      type: 'PhaseSimulated',
      data: { ...sim, phase, digest: 'b'.repeat(64), at: at(3) },
    })),
    {
      type: 'DryRunCompleted',
      data: {
        ...sim,
        at: at(4),
        passed: true,
        diff: { inserts: 0, updates: 1, deletes: 0, unchanged: 0 },
        expectedPostImageHash: 'c'.repeat(64),
        nonMutation: { preImageHashBefore: 'a'.repeat(64), preImageHashAfter: 'a'.repeat(64) },
      },
    },
  ];
  return { events, planHash: hash, at };
}

/** A live start with open-lock evidence, at `at`. */
export const liveStarted = (planHash: string, runId: string, at: string): DomainEvent => ({
  type: 'LiveRunStarted',
  data: { runId, planHash, executor: LIVE, at, evidence: { at, locks: OPEN, approvals: ['alice', 'bob'] } },
});

/**
 * Stores a forged backup: `entries` (key JSON, row JSON or null) under the cut's header, encrypted
 * to the workspace's backup key, recorded in the vault for `runId`. Returns what BackupTaken must
 * carry to bind it.
 */
export async function storeForgedBackup(
  ws: TestWorkspace,
  b: { cutId: string; runId: string; planHash: string; backupId: string; entries: [string, string | null][] },
): Promise<{ plaintextHash: string }> {
  const plaintext =
    headerLine({ cutId: b.cutId, planHash: b.planHash, target: 'kb', table: 'public.documents', key: ['id'] }) +
    b.entries.map(([k, r]) => entryLine(k, r)).join('');
  const armoredKey = readFileSync(backupKeyPaths(ws.keys, 'backup').publicKeyPath, 'utf8');
  const enc = await encryptionStream([armoredKey]);
  const plaintextHash = sha256(plaintext);
  await withStoreDb(ws, (db) =>
    db.tx(async (tx) => {
      const blob = putBlob(tx, b.backupId, enc.output);
      await enc.write(plaintext);
      await enc.end();
      await blob;
      await recordBackup(tx, {
        backupId: b.backupId,
        cutId: b.cutId,
        runId: b.runId,
        plaintextSha256: plaintextHash,
        rowCount: b.entries.filter(([, r]) => r !== null).length,
        recipients: enc.recipients,
        blobId: b.backupId,
      });
    }),
  );
  return { plaintextHash };
}

/** A BackupTaken binding `backupId` with `plaintextHash` to run `runId`. */
export const backupTaken = (
  planHash: string,
  runId: string,
  at: string,
  backupId: string,
  plaintextHash: string,
): DomainEvent => ({
  type: 'BackupTaken',
  data: {
    runId,
    planHash,
    executor: LIVE,
    at,
    backupId,
    plaintextHash,
    preImageHash: 'a'.repeat(64),
    rowCount: 1,
    recipients: ['F'],
    receipt: sha256(canonicalJson({ runId })),
  },
});
