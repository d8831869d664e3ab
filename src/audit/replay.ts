/**
 * `cutter replay`: for each cut stream, the hash chain verified, every event re-checked by the
 * machine from the initial state with invariants 1–5, and the stored projection rows compared with
 * a fresh fold, and the evidence outside the log (change-set blobs, stored backups) re-hashed;
 * across streams, invariant 6 (no two live runs overlapping on one target, in commit order). Then
 * authority (DESIGN §7, src/domain/trust.ts): the governance chain from the pinned
 * trust root, every event's signature and role against the registry at the version it names, the
 * kill-switch stream through its machine, lock evidence against it, approvals against the registry,
 * the cut's policy against governance, and every stream present in the events table.
 *
 * With `since` (a kept checkpoint), replay after it: the checkpoint is verified first (signed by a
 * member enrolled under the pinned root, its root the hash of its heads, still in the log, and every
 * stream it names still holding the recorded hash at the recorded version — one index probe per
 * stream, no chain re-walk). Then only the cut streams written after it (a head past the
 * checkpoint's, or new) are replayed, each in full from its first event (the fold needs the state
 * at the checkpoint, and a signed head hash does not give it: the stream's prefix is re-read,
 * re-hashed and re-folded, so its state is derived, not trusted); invariant 6 is walked over the
 * cuts on the targets those streams touch. Streams unchanged since the checkpoint are vouched for
 * by their head hash alone: their events are not re-read, so an edit that left the stored hashes
 * stale goes unseen until a full replay. The report says which streams were taken on the
 * checkpoint's word (`since`). A checkpoint that does not verify anchors nothing: the replay is full.
 */
import { canonicalJson } from '../../events/canonical.js';
import { replay as replayStream, type Violation } from '../domain/index.js';
import { projectCut } from '../projections/cuts.js';
import { cutIdOf, cutStreamId, isCutStream } from '../../events/streams.js';
import { loadBackup } from '../store/backups.js';
import { changeSetBlobId } from '../cuts/changes.js';
import { lines, readBlob } from '../store/blobs.js';
import { START, type EventStore, type StoredEvent } from '../store/index.js';
import { sql } from '../store/connection.js';
import { GOVERNANCE_STREAM } from '../../events/governance.js';
import { KILL_SWITCH_STREAM } from '../../machines/killswitch.js';
import { foldGovernance, type Crypto, type GovernanceState, type TrustViolation } from '../domain/governance.js';
import { checkCutTrust, checkEventTrust, checkKillSwitchStream, knownStream } from '../domain/trust.js';
import { nodeCrypto } from '../governance/authority.js';
import { defaultVerifyThreads, verifiedAhead, VerifyPool, type ApprovalVerdicts } from '../crypto/verify-pool.js';
import { withApprovalVerdicts } from '../../machines/approvals.js';
import { CHECKPOINT_STREAM, CheckpointRecorded, headsRoot, type CheckpointFile } from '../../events/checkpoint.js';
import { splitTable, type TargetSpec } from '../config/target.js';
import { checkCheckpointFile, checkHeads, type AnchorViolation } from './checkpoints.js';
import { checkLedger } from './ledger.js';
import { readStreamBatches, type StreamRead } from './stream-batches.js';
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
  /** Present when replaying after a kept checkpoint (`since`): what was replayed, what was taken on its word. */
  since?: SinceReport;
}

export interface SinceReport {
  /** The kept checkpoint's version in the checkpoints stream. */
  checkpointVersion: number;
  /** False when the checkpoint did not verify: then nothing was taken from it and the replay was full. */
  anchored: boolean;
  /** Cut streams written after the checkpoint, replayed in full (prefix included). */
  replayedStreams: number;
  /** Streams unchanged since the checkpoint, checked by their head hash only (events not re-read). */
  unchangedStreams: number;
  /** Events of the unchanged streams, as the checkpoint's heads count them: not re-verified. */
  unchangedEvents: number;
}

/** What replay's options name: the trust pin, anchors outside the log, and how many verifying threads. */
export interface ReplayOptions {
  trustRoot?: string | undefined;
  checkpoint?: CheckpointFile;
  /** Replay only the streams written after this kept checkpoint (see the module header); `cutId` must be undefined. */
  since?: CheckpointFile;
  targets?: TargetSpec[];
  /** Signature-checking threads (default: every core). */ threads?: number;
}

type Violations = ReplayReport['violations'];

/**
 * Replays one cut, or every stream (`cutId` undefined), checking authority from `trustRoot` (the
 * config's pin or an auditor's `--trust-root`). Without a root nothing can be proven: that is a
 * `trust-root` violation.
 */
export async function replayStore(store: EventStore, cutId?: string, opts: ReplayOptions = {}): Promise<ReplayReport> {
  const violations: Violations = [];
  const { governance, ks } = await checkAuthorityStreams(store, opts.trustRoot, violations);
  // After a kept checkpoint: verified first; only if it holds are unchanged streams taken on its word.
  if (opts.since && cutId)
    throw new Error('replay: `since` replays every stream written after the checkpoint, not one cut');
  const { since, anchor } = opts.since
    ? await anchorOnCheckpoint(store, opts.since, opts.trustRoot, violations)
    : { since: undefined, anchor: undefined };
  const streams = await streamsToReplay(store, cutId, anchor, violations);
  if (since && anchor)
    Object.assign(since, {
      anchored: true,
      replayedStreams: streams.length,
      unchangedStreams: anchor.unchanged.length,
      unchangedEvents: anchor.unchangedEvents,
    });
  const checkpoints = await checkStoredCheckpoints(store, cutId, governance, violations);
  if (opts.checkpoint) violations.push(...(await checkKeptCheckpoint(store, opts.checkpoint, opts.trustRoot)));
  const targets = await checkTargetLedgers(store, opts.targets ?? [], cutId, violations);
  const events = await replayCutStreams(store, streams, governance, ks, opts.threads, violations);
  if (!cutId) violations.push(...(anchor ? await overlapsAfter(store, anchor) : await overlappingLiveRuns(store)));
  return {
    ok: violations.length === 0,
    streams: streams.length,
    events,
    trust: { root: governance.root ?? null, governanceVersion: governance.versions.length },
    anchors: {
      checkpointsInStore: checkpoints,
      checkpointFile: Boolean(opts.checkpoint),
      targets: opts.targets ? targets : null,
    },
    violations,
    ...(since ? { since } : {}),
  };
}

/**
 * The governance stream folded from the trust root, and the governance and kill-switch streams'
 * own hash chains and authority; their violations are pushed onto `violations`.
 */
async function checkAuthorityStreams(
  store: EventStore,
  trustRoot: string | undefined,
  violations: Violations,
): Promise<{ governance: GovernanceState; ks: ReturnType<typeof checkKillSwitchStream> }> {
  const governance = foldGovernance(await store.readStream(GOVERNANCE_STREAM), nodeCrypto, trustRoot);
  if (!trustRoot)
    violations.push({
      streamId: GOVERNANCE_STREAM,
      version: 0,
      type: '-',
      rule: 'trust-root',
      message: 'no trust root pinned (trust.root) or given (--trust-root): authority cannot be checked',
    });
  violations.push(...governance.violations);
  if (trustRoot && !governance.root && !governance.violations.some((v) => v.rule === 'trust-root')) {
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
  return { governance, ks };
}

/**
 * Verifies the kept checkpoint `cp` (chain walk skipped: the heads are probed). If it holds, the
 * store split it gives; if not, its violations are pushed and there is no anchor (full replay).
 */
async function anchorOnCheckpoint(
  store: EventStore,
  cp: CheckpointFile,
  trustRoot: string | undefined,
  violations: Violations,
): Promise<{ since: SinceReport; anchor: SinceAnchor | undefined }> {
  const r = await checkCheckpointFile(store, cp, trustRoot, { chain: false });
  const reasons = [...r.trust, ...r.violations.map((v) => v.message)];
  const since = {
    checkpointVersion: cp.event.version,
    anchored: false,
    replayedStreams: 0,
    unchangedStreams: 0,
    unchangedEvents: 0,
  };
  if (trustRoot && !reasons.length) return { since, anchor: await sinceAnchor(store, cp) };
  violations.push(
    ...r.violations,
    ...checkpointTrustViolations(cp, r.trust, ' (so nothing is taken from it: full replay)'),
  );
  return { since, anchor: undefined };
}

/**
 * The cut streams to replay: the one cut, or those written after the anchor, or all. Over the whole
 * store, every stream present that cutter does not write is an `unknown-stream` violation.
 */
async function streamsToReplay(
  store: EventStore,
  cutId: string | undefined,
  anchor: SinceAnchor | undefined,
  violations: Violations,
): Promise<string[]> {
  const present: string[] = anchor
    ? anchor.present
    : (await store.db.query(sql`SELECT DISTINCT stream_id FROM cutter.events ORDER BY stream_id`)).map(
        (r: { stream_id: string }) => r.stream_id,
      );
  if (cutId) return [cutStreamId(cutId)];
  for (const id of present)
    if (!knownStream(id))
      violations.push({
        streamId: id,
        version: 0,
        type: '-',
        rule: 'unknown-stream',
        message: `stream ${id} is not one cutter writes`,
      });
  return (anchor ? anchor.written : present).filter((id) => isCutStream(id));
}

/**
 * Checkpoints recorded in the store: the stream's chain, each signed by a member, its root the hash
 * of its heads, each head still extended by the log (only the cut's head for one cut). Returns how
 * many there are.
 */
async function checkStoredCheckpoints(
  store: EventStore,
  cutId: string | undefined,
  governance: GovernanceState,
  violations: Violations,
): Promise<number> {
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
  return checkpoints.length;
}

/** A kept checkpoint file (`--checkpoint`) checked against the store, chain included. */
/** A kept checkpoint's trust failures (its signature, signer, root) as violations of its event. */
function checkpointTrustViolations(cp: CheckpointFile, messages: string[], suffix = ''): Violations {
  return messages.map((message) => ({
    streamId: CHECKPOINT_STREAM,
    version: cp.event.version,
    type: '-',
    rule: 'checkpoint' as const,
    message: message + suffix,
  }));
}

async function checkKeptCheckpoint(
  store: EventStore,
  cp: CheckpointFile,
  trustRoot: string | undefined,
): Promise<Violations> {
  const r = await checkCheckpointFile(store, cp, trustRoot);
  return [...r.violations, ...checkpointTrustViolations(cp, r.trust)];
}

/** The target ledgers checked against the log (only the cut's rows for one cut); rows per ledger returned. */
async function checkTargetLedgers(
  store: EventStore,
  specs: TargetSpec[],
  cutId: string | undefined,
  violations: Violations,
): Promise<{ target: string; rows: number }[]> {
  const targets: { target: string; rows: number }[] = [];
  // Targets in one schema of one database share a ledger: read it once, for all of them.
  const ledgers = new Map<string, TargetSpec[]>();
  for (const spec of specs) {
    const where = `${spec.url}|${splitTable(spec.table).schema}`;
    ledgers.set(where, [...(ledgers.get(where) ?? []), spec]);
  }
  for (const group of ledgers.values()) {
    const r = await checkLedger(
      store,
      group[0]!,
      group.map((s) => s.name),
    );
    targets.push({ target: r.target, rows: r.rows });
    violations.push(...(cutId ? r.violations.filter((v) => v.streamId === cutStreamId(cutId)) : r.violations));
  }
  return targets;
}

/**
 * Every cut stream in `streamIds` replayed (see checkCutStream); returns how many events were read.
 * Cut streams are read in batches of about BATCH_EVENTS events (events, heads and projection rows:
 * one statement each, src/audit/stream-batches.ts); each batch's signatures are
 * verified up front on the worker pool (src/crypto/verify-pool.ts) — the next batch's while this one
 * is checked — then every stream is checked in order exactly as before. One thread (`threads: 1`)
 * verifies inline.
 */
async function replayCutStreams(
  store: EventStore,
  streamIds: string[],
  governance: GovernanceState,
  ks: ReturnType<typeof checkKillSwitchStream>,
  threadsOpt: number | undefined,
  violations: Violations,
): Promise<number> {
  let events = 0;
  const threads = threadsOpt ?? defaultVerifyThreads();
  const pool = threads > 1 && streamIds.length ? new VerifyPool(threads) : undefined;
  const eventsOf = (batch: StreamRead[]) => batch.flatMap((b) => b.stored);
  try {
    for await (const { batch, crypto, approvals } of verifiedAhead(
      readStreamBatches(store.db, streamIds, BATCH_EVENTS),
      eventsOf,
      governance,
      nodeCrypto,
      pool,
    )) {
      for (const read of batch) {
        events += read.stored.length;
        violations.push(...(await checkCutStream(store, read, { governance, crypto, approvals, ks })));
      }
    }
  } finally {
    await pool?.close();
  }
  return events;
}

/**
 * One cut stream: its events' authority, its hash chain, the machine's replay from the initial
 * state, the evidence outside the log, and its stored projection rows against a fresh fold.
 */
async function checkCutStream(
  store: EventStore,
  { streamId, stored, chainBreak, rows }: StreamRead,
  checks: {
    governance: GovernanceState;
    crypto: Crypto;
    /** Verdicts on the approvals' signatures established ahead, lent to the machine's guards. */
    approvals: ApprovalVerdicts;
    ks: ReturnType<typeof checkKillSwitchStream>;
  },
): Promise<Violations> {
  const { governance, crypto, approvals, ks } = checks;
  // The events themselves (each already carries its stream id): the prefetched verdicts are keyed by them.
  const violations: Violations = [...checkCutTrust(stored, governance, crypto, ks.timeline)];
  if (stored.length === 0) {
    violations.push({ streamId, version: 0, type: '-', rule: 'illegal-transition', message: 'no such cut' });
    return violations;
  }
  if (chainBreak) {
    violations.push({
      streamId,
      version: chainBreak.version,
      eventId: chainBreak.eventId,
      type: stored.find((e) => e.version === chainBreak.version)?.type ?? '?',
      rule: 'hash-chain',
      message: chainBreak.reason,
    });
  }
  const r = withApprovalVerdicts(approvals, () => replayStream(stored.map((e) => ({ ...e, streamId }))));
  violations.push(...r.violations.map((v) => ({ ...v, streamId })));
  violations.push(...(await storedEvidence(store, stored)).map((v) => ({ ...v, streamId })));
  const fresh = withApprovalVerdicts(approvals, () => projectCut(streamId, stored));
  if (!projectionMatches(rows, fresh))
    violations.push({
      streamId,
      version: stored.length,
      type: '-',
      rule: 'projection',
      message: 'stored projection rows differ from a fresh fold of the log (run `cutter projections rebuild`)',
    });
  return violations;
}

/** Whether the stream's stored `cuts` and `runs` rows equal `fresh`, the fold of its events. */
function projectionMatches(stored: StreamRead['rows'], fresh: ReturnType<typeof projectCut>): boolean {
  const freshRuns = [...fresh.runs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((x) => x.row);
  return (
    canonicalJson(stored.cuts) === canonicalJson([fresh.cut.row]) &&
    canonicalJson(stored.runs) === canonicalJson(freshRuns)
  );
}

const BATCH_EVENTS = 4096;

/** What a verified kept checkpoint splits the store into. */
interface SinceAnchor {
  /** Every stream in the events table. */
  present: string[];
  /** Streams with events after the checkpoint's head (or absent from it): replayed in full. */
  written: string[];
  /** Streams whose head is the checkpoint's (version and hash): taken on its word. */
  unchanged: string[];
  unchangedEvents: number;
  /** The target each cut stream's CutPlanned (version 1) names, from the events table. */
  targetOf: Map<string, string>;
}

/**
 * One query: every stream of the events table (a skip scan of the (stream_id, version) index, one
 * probe per stream rather than a read of every event), its head version and hash, and the target its
 * first event plans. A stream is unchanged when its head is exactly the checkpoint's.
 */
async function sinceAnchor(store: EventStore, cp: CheckpointFile): Promise<SinceAnchor> {
  const rows: { stream_id: string; version: number; hash: string; target: string | null }[] = await store.db.query(sql`
    WITH RECURSIVE s(id) AS (
      (SELECT stream_id FROM cutter.events ORDER BY stream_id LIMIT 1)
      UNION ALL
      SELECT (SELECT e.stream_id FROM cutter.events e WHERE e.stream_id > s.id ORDER BY e.stream_id LIMIT 1)
      FROM s WHERE s.id IS NOT NULL
    )
    SELECT s.id AS stream_id, h.version, h.hash, p.data->>'target' AS target
    FROM s
    CROSS JOIN LATERAL (
      SELECT version, hash FROM cutter.events e WHERE e.stream_id = s.id ORDER BY version DESC LIMIT 1
    ) h
    LEFT JOIN cutter.events p ON p.stream_id = s.id AND p.version = 1 AND p.type = 'CutPlanned'
    WHERE s.id IS NOT NULL
    ORDER BY s.id`);
  const heads = new Map(cp.event.data.streams.map((h) => [h.streamId, h]));
  const out: SinceAnchor = { present: [], written: [], unchanged: [], unchangedEvents: 0, targetOf: new Map() };
  for (const r of rows) {
    out.present.push(r.stream_id);
    if (r.target !== null) out.targetOf.set(r.stream_id, r.target);
    const h = heads.get(r.stream_id);
    if (h && h.version === Number(r.version) && h.hash === r.hash) {
      out.unchanged.push(r.stream_id);
      out.unchangedEvents += h.version;
    } else out.written.push(r.stream_id);
  }
  return out;
}

/** Events that start or end a cut's hold on its target (invariant 6). */
const HOLDS = ['LiveRunStarted', 'RevertStarted'];
const RELEASES = ['LifecycleEnacted', 'PhaseFailed', 'VerifyFailed', 'CutReverted', 'RevertFailed'];

/**
 * Invariant 6 after a checkpoint: the same walk as `overlappingLiveRuns`, over the holds and
 * releases (in commit order) of every cut planned on a target that a cut written after the
 * checkpoint names — all a new overlap can involve. Overlaps among cuts on other targets predate
 * the checkpoint and are not walked again.
 */
async function overlapsAfter(store: EventStore, anchor: SinceAnchor): Promise<ReplayReport['violations']> {
  const touched = new Set(anchor.written.flatMap((id) => (anchor.targetOf.has(id) ? [anchor.targetOf.get(id)!] : [])));
  const ids = [...anchor.targetOf].filter(([, t]) => touched.has(t)).map(([id]) => id);
  if (ids.length === 0) return [];
  const rows = await store.db.query(sql`
    SELECT stream_id, version, event_id::text AS event_id, type,
    CASE WHEN type = 'CutPlanned' THEN data ELSE NULL END AS data
    FROM cutter.events WHERE stream_id = ANY(${ids}::text[])
    AND type = ANY(${['CutPlanned', ...HOLDS, ...RELEASES]}::text[])
    ORDER BY transaction_id, global_position`);
  const walk = holdsWalk();
  for (const r of rows)
    walk.see({ streamId: r.stream_id, version: r.version, eventId: r.event_id, type: r.type, data: r.data });
  return walk.violations;
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
  const walk = holdsWalk();
  let after = START;
  for (;;) {
    const page = await store.readAll({ after, limit: 5000, everything: true });
    if (page.events.length === 0) break;
    after = page.next;
    for (const e of page.events) walk.see(e);
  }
  return walk.violations;
}

/** The walk of invariant 6: `see` each event in commit order, then read the violations. */
function holdsWalk() {
  const targetOf = new Map<string, string>();
  const holder = new Map<string, string>();
  const violations: ReplayReport['violations'] = [];
  const see = (e: Pick<StoredEvent, 'streamId' | 'version' | 'eventId' | 'type' | 'data'>) => {
    if (!isCutStream(e.streamId)) return;
    const cut = cutIdOf(e.streamId);
    if (e.type === 'CutPlanned') targetOf.set(cut, String(fieldOf(e.data, 'target')));
    const target = targetOf.get(cut);
    if (!target) return;
    if (HOLDS.includes(e.type)) {
      const h = holder.get(target);
      if (h && h !== cut)
        violations.push({
          streamId: e.streamId,
          version: e.version,
          eventId: e.eventId,
          type: e.type,
          rule: 'target-exclusive',
          message: `target ${target} already held by cut ${h}`,
        });
      holder.set(target, cut);
    }
    if (RELEASES.includes(e.type) && holder.get(target) === cut) holder.delete(target);
  };
  return { see, violations };
}
