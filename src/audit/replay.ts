/**
 * `cutter replay`: for each cut stream, the hash chain verified, every event re-checked by the
 * machine from the initial state with invariants 1–5, and the stored projection rows compared with
 * a fresh fold, and the evidence outside the log (change-set blobs, stored backups) re-hashed; across streams, invariant 6 (no two live runs overlapping on one target, in commit
 * order). Then authority (DESIGN §7, src/domain/trust.ts): the governance chain from the pinned
 * trust root, every event's signature and role against the registry at the version it names, the
 * kill-switch stream through its machine, lock evidence against it, approvals against the registry,
 * the cut's policy against governance, and every stream present in the events table.
 */
import { canonicalJson } from '../../events/canonical.js';
import { replay as replayStream, type Violation } from '../domain/index.js';
import { projectCut } from '../projections/cuts.js';
import { cutIdOf, cutStreamId, isCutStream } from '../../events/streams.js';
import { projectionRows } from '../projections/store.js';
import { loadBackup } from '../crypto/vault.js';
import { changeSetBlobId } from '../cuts/changes.js';
import { lines, readBlob } from '../store/blobs.js';
import { START, type EventStore, type StoredEvent } from '../store/index.js';
import { sql } from '../store/connection.js';
import { GOVERNANCE_STREAM } from '../../events/governance.js';
import { KILL_SWITCH_STREAM } from '../../machines/killswitch.js';
import { foldGovernance, type TrustViolation } from '../domain/governance.js';
import { checkCutTrust, checkEventTrust, checkKillSwitchStream, knownStream } from '../domain/trust.js';
import { nodeCrypto } from '../governance/authority.js';
import { defaultVerifyThreads, prefetchedCrypto, VerifyPool } from '../crypto/verify-pool.js';
import { CHECKPOINT_STREAM, CheckpointRecorded, headsRoot, type CheckpointFile } from '../../events/checkpoint.js';
import { splitTable, type TargetSpec } from '../config/target.js';
import { checkCheckpointFile, checkHeads, type AnchorViolation } from './checkpoints.js';
import { checkLedger } from './ledger.js';
import { fieldOf } from '../../events/index.js';

export interface ReplayReport {
  ok: boolean;
  streams: number;
  events: number;
  /** The trust root replay checked governance from, and the governance version in force. */
  trust: { root: string | null; governanceVersion: number };
  /** Which anchors outside the log were checked: kept checkpoint file, target ledgers. */
  anchors: { checkpointsInStore: number; checkpointFile: boolean; targets: { target: string; rows: number }[] | null };
  violations: ((Violation | TrustViolation | AnchorViolation) & { streamId: string })[];
}

/**
 * Replays one cut, or every stream (`cutId` undefined), checking authority from `trustRoot` (the
 * config's pin or an auditor's `--trust-root`). Without a root nothing can be proven: that is a
 * `trust-root` violation.
 */
export async function replayStore(
  store: EventStore,
  cutId?: string,
  opts: {
    trustRoot?: string | undefined;
    checkpoint?: CheckpointFile;
    targets?: TargetSpec[];
    /** Signature-checking threads (default: every core). */ threads?: number;
  } = {},
): Promise<ReplayReport> {
  const violations: ReplayReport['violations'] = [];
  const governance = foldGovernance(await store.readStream(GOVERNANCE_STREAM), nodeCrypto, opts.trustRoot);
  if (!opts.trustRoot)
    violations.push({
      streamId: GOVERNANCE_STREAM,
      version: 0,
      type: '-',
      rule: 'trust-root',
      message: 'no trust root pinned (trust.root) or given (--trust-root): authority cannot be checked',
    });
  violations.push(...governance.violations);
  if (opts.trustRoot && !governance.root && !governance.violations.some((v) => v.rule === 'trust-root')) {
    violations.push({
      streamId: GOVERNANCE_STREAM,
      version: 0,
      type: '-',
      rule: 'trust-root',
      message: 'the store has no governance genesis',
    });
  }
  // The governance and kill-switch streams' own hash chains (a deleted middle event, an edit).
  for (const streamId of [GOVERNANCE_STREAM, KILL_SWITCH_STREAM]) {
    const chain = await store.verifyChain(streamId);
    if (!chain.ok && chain.firstBroken)
      violations.push({
        streamId,
        version: chain.firstBroken.version,
        eventId: chain.firstBroken.eventId,
        type: '-',
        rule: 'hash-chain',
        message: chain.firstBroken.reason,
      });
  }
  const ks = checkKillSwitchStream(
    (await store.readStream(KILL_SWITCH_STREAM)).map((e) => ({ ...e, streamId: KILL_SWITCH_STREAM })),
    governance,
    nodeCrypto,
  );
  violations.push(...ks.violations);
  const present: string[] = (
    await store.db.query(sql`SELECT DISTINCT stream_id FROM cutter.events ORDER BY stream_id`)
  ).map((r: { stream_id: string }) => r.stream_id);
  if (!cutId)
    for (const id of present)
      if (!knownStream(id))
        violations.push({
          streamId: id,
          version: 0,
          type: '-',
          rule: 'unknown-stream',
          message: `stream ${id} is not one cutter writes`,
        });
  const streams = cutId
    ? [{ streamId: cutStreamId(cutId) }]
    : present.filter((id) => isCutStream(id)).map((streamId) => ({ streamId }));
  // Checkpoints recorded in the store: each signed by a member, each still extended by the log.
  const checkpoints = (await store.readStream(CHECKPOINT_STREAM)).map((e) => ({ ...e, streamId: CHECKPOINT_STREAM }));
  if (checkpoints.length) {
    const chain = await store.verifyChain(CHECKPOINT_STREAM);
    if (!chain.ok && chain.firstBroken)
      violations.push({
        streamId: CHECKPOINT_STREAM,
        version: chain.firstBroken.version,
        type: '-',
        rule: 'hash-chain',
        message: chain.firstBroken.reason,
      });
  }
  for (const e of checkpoints) {
    violations.push(...checkEventTrust(e, governance, nodeCrypto).violations);
    const cp = CheckpointRecorded.safeParse(e.data);
    if (!cp.success || headsRoot(cp.data.streams) !== cp.data.root) {
      violations.push({
        streamId: CHECKPOINT_STREAM,
        version: e.version,
        type: e.type,
        rule: 'checkpoint',
        message: 'a malformed checkpoint, or its root is not the hash of its heads',
      });
      continue;
    }
    const heads = cutId ? cp.data.streams.filter((h) => h.streamId === cutStreamId(cutId)) : cp.data.streams;
    violations.push(...(await checkHeads(store, heads, `checkpoint ${e.version}`)));
  }
  if (opts.checkpoint) {
    const r = await checkCheckpointFile(store, opts.checkpoint, opts.trustRoot);
    violations.push(
      ...r.violations,
      ...r.trust.map((message) => ({
        streamId: CHECKPOINT_STREAM,
        version: opts.checkpoint!.event.version,
        type: '-',
        rule: 'checkpoint' as const,
        message,
      })),
    );
  }
  const targets: { target: string; rows: number }[] = [];
  // Targets in one schema of one database share a ledger: read it once, for all of them.
  const ledgers = new Map<string, TargetSpec[]>();
  for (const spec of opts.targets ?? []) {
    const where = `${spec.url}|${splitTable(spec.table).schema}`;
    ledgers.set(where, [...(ledgers.get(where) ?? []), spec]);
  }
  for (const specs of ledgers.values()) {
    const spec = specs[0]!;
    const r = await checkLedger(
      store,
      spec,
      specs.map((s) => s.name),
    );
    targets.push({ target: r.target, rows: r.rows });
    violations.push(...(cutId ? r.violations.filter((v) => v.streamId === cutStreamId(cutId)) : r.violations));
  }
  let events = 0;
  // Cut streams are read in batches of about BATCH_EVENTS events; each batch's signatures are
  // verified up front on the worker pool (src/crypto/verify-pool.ts), then every stream is checked
  // in order exactly as before. One thread (`threads: 1`) verifies inline.
  const threads = opts.threads ?? defaultVerifyThreads();
  const pool = threads > 1 && streams.length ? new VerifyPool(threads) : undefined;
  try {
    for await (const batch of readInBatches(
      store,
      streams.map((s) => s.streamId),
    )) {
      const crypto = await prefetchedCrypto(
        batch.flatMap((b) => b.stored.map((e) => ({ ...e, streamId: b.streamId }))),
        governance,
        nodeCrypto,
        pool,
      );
      for (const { streamId, stored } of batch) {
        events += stored.length;
        violations.push(
          ...checkCutTrust(
            stored.map((e) => ({ ...e, streamId })),
            governance,
            crypto,
            ks.timeline,
          ),
        );
        if (stored.length === 0) {
          violations.push({ streamId, version: 0, type: '-', rule: 'illegal-transition', message: 'no such cut' });
          continue;
        }
        const chain = await store.verifyChain(streamId);
        if (!chain.ok && chain.firstBroken) {
          violations.push({
            streamId,
            version: chain.firstBroken.version,
            eventId: chain.firstBroken.eventId,
            type: stored.find((e) => e.version === chain.firstBroken!.version)?.type ?? '?',
            rule: 'hash-chain',
            message: chain.firstBroken.reason,
          });
        }
        const r = replayStream(stored.map((e) => ({ ...e, streamId })));
        violations.push(...r.violations.map((v) => ({ ...v, streamId })));
        violations.push(...(await storedEvidence(store, stored)).map((v) => ({ ...v, streamId })));
        const fresh = projectCut(streamId, stored);
        const storedCuts = await projectionRows(store.db, 'cuts', streamId);
        const storedRuns = await projectionRows(store.db, 'runs', streamId);
        const same =
          canonicalJson(storedCuts) === canonicalJson([fresh.cut.row]) &&
          canonicalJson(storedRuns) ===
            canonicalJson(
              [...fresh.runs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((x) => x.row),
            );
        if (!same)
          violations.push({
            streamId,
            version: stored.length,
            type: '-',
            rule: 'projection',
            message: 'stored projection rows differ from a fresh fold of the log (run `cutter projections rebuild`)',
          });
      }
    }
  } finally {
    await pool?.close();
  }
  if (!cutId) violations.push(...(await overlappingLiveRuns(store)));
  return {
    ok: violations.length === 0,
    streams: streams.length,
    events,
    trust: { root: governance.root ?? null, governanceVersion: governance.versions.length },
    anchors: {
      checkpointsInStore: checkpoints.length,
      checkpointFile: Boolean(opts.checkpoint),
      targets: opts.targets ? targets : null,
    },
    violations,
  };
}

const BATCH_EVENTS = 4096;

/** The streams' events, a batch of whole streams at a time (about BATCH_EVENTS events each). */
async function* readInBatches(
  store: EventStore,
  streamIds: string[],
): AsyncGenerator<{ streamId: string; stored: StoredEvent[] }[]> {
  let batch: { streamId: string; stored: StoredEvent[] }[] = [];
  let size = 0;
  for (const streamId of streamIds) {
    const stored = await store.readStream(streamId);
    batch.push({ streamId, stored });
    size += stored.length;
    if (size >= BATCH_EVENTS) {
      yield batch;
      batch = [];
      size = 0;
    }
  }
  if (batch.length) yield batch;
}

/**
 * The evidence a cut's events point to outside the log: a change set's blob must hash to the
 * SHA-256 the plan records and hold its count of changes; every backup must be stored, and its
 * ciphertext's chunks must hash to their header (no key needed: nothing is decrypted).
 */
async function storedEvidence(store: EventStore, stored: StoredEvent[]): Promise<Violation[]> {
  const out: Violation[] = [];
  for (const e of stored) {
    const at = { version: e.version, eventId: e.eventId, type: e.type };
    const data = e.data as {
      plan?: { changeSet?: { sha256: string; count: number } };
      backupId?: string;
      plaintextHash?: string;
    };
    try {
      if (e.type === 'CutPlanned' && data.plan?.changeSet) {
        const set = data.plan.changeSet;
        let count = 0;
        for await (const line of lines(readBlob(store.db, changeSetBlobId(set.sha256), { expectSha256: set.sha256 })))
          if (line.trim() !== '') count++;
        if (count !== set.count)
          out.push({
            ...at,
            rule: 'change-set',
            message: `the change set holds ${count} changes, the plan records ${set.count}`,
          });
      }
      if (e.type === 'BackupTaken' && data.backupId) {
        const b = await loadBackup(store.db, data.backupId);
        if (!b) out.push({ ...at, rule: 'backup', message: `backup ${data.backupId} is not in the store` });
        else if (b.plaintextSha256 !== data.plaintextHash)
          out.push({
            ...at,
            rule: 'backup',
            message: `backup ${data.backupId} records plaintext ${b.plaintextSha256}, the event ${data.plaintextHash}`,
          });
        else if (b.blobId) for await (const _ of readBlob(store.db, b.blobId)) void _;
      }
    } catch (err) {
      out.push({ ...at, rule: e.type === 'CutPlanned' ? 'change-set' : 'backup', message: (err as Error).message });
    }
  }
  return out;
}

/** Invariant 6 across streams: walking the log in commit order, a target never has two live holders. */
async function overlappingLiveRuns(store: EventStore): Promise<ReplayReport['violations']> {
  const targetOf = new Map<string, string>();
  const holder = new Map<string, string>();
  const out: ReplayReport['violations'] = [];
  let after = START;
  for (;;) {
    const page = await store.readAll({ after, limit: 5000, everything: true });
    if (page.events.length === 0) break;
    after = page.next;
    for (const e of page.events as StoredEvent[]) {
      if (!isCutStream(e.streamId)) continue;
      const cut = cutIdOf(e.streamId);
      if (e.type === 'CutPlanned') targetOf.set(cut, String(fieldOf(e.data, 'target')));
      const target = targetOf.get(cut);
      if (!target) continue;
      if (e.type === 'LiveRunStarted' || e.type === 'RevertStarted') {
        const h = holder.get(target);
        if (h && h !== cut)
          out.push({
            streamId: e.streamId,
            version: e.version,
            eventId: e.eventId,
            type: e.type,
            rule: 'target-exclusive',
            message: `target ${target} already held by cut ${h}`,
          });
        holder.set(target, cut);
      }
      if (
        ['LifecycleEnacted', 'PhaseFailed', 'VerifyFailed', 'CutReverted', 'RevertFailed'].includes(e.type) &&
        holder.get(target) === cut
      )
        holder.delete(target);
    }
  }
  return out;
}
