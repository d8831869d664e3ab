/**
 * Offline audit bundles (DESIGN §7, issue #14): one self-contained file per cut — its events, the
 * governance stream, the kill-switch stream its lock evidence depends on, the signed checkpoints
 * (one of which must cover the cut's last event), and the hashes of the change set and backups it
 * names — that an auditor verifies with nothing but the trust root: no database, no network.
 * Every check replay makes that the bundle allows is made again by `verifyBundle`, which is pure.
 */
import { z } from 'zod';
import { CHECKPOINT_STREAM, CheckpointRecorded, headsRoot, type CheckpointFile } from '../../events/checkpoint.js';
import { GOVERNANCE_STREAM } from '../../events/governance.js';
import { KILL_SWITCH_STREAM } from '../../machines/killswitch.js';
import { replay as replayCut, type Violation } from '../domain/index.js';
import { foldGovernance, type TrustViolation } from '../domain/governance.js';
import { checkCutTrust, checkEventTrust, checkKillSwitchStream } from '../domain/trust.js';
import { GovernanceRefusedError } from '../errors.js';
import { nodeCrypto } from '../governance/authority.js';
import { readJsonFile } from '../config/json-file.js';
import { checkOutputPath, writeTextFile } from '../config/text-file.js';
import { loadBackup } from '../store/backups.js';
import { checkLinks } from '../store/chain.js';
import type { StoredEvent } from '../store/index.js';
import type { Session } from '../workspace/session.js';
import { loadCut } from '../cuts/handle.js';
import { cutStreamId } from '../../events/streams.js';
import { fieldOf } from '../../events/index.js';

export const BUNDLE_FORMAT = 'cutter-bundle/1';

const Stored = z.strictObject({
  eventId: z.string(),
  streamId: z.string(),
  version: z.number().int().min(1),
  globalPosition: z.string(),
  transactionId: z.string(),
  type: z.string(),
  data: z.unknown(),
  metadata: z.record(z.string(), z.unknown()),
  recordedAt: z.string(),
  prevHash: z.string().nullable(),
  hash: z.string(),
});

export const Bundle = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  cutId: z.string().min(1),
  /** The trust root the exporter's store was pinned to (a claim: the verifier brings its own). */
  trustRoot: z.string(),
  exportedAt: z.string(),
  streams: z.strictObject({
    cut: z.array(Stored).min(1),
    governance: z.array(Stored).min(1),
    killswitch: z.array(Stored),
    checkpoints: z.array(Stored).min(1),
  }),
  evidence: z.strictObject({
    changeSet: z.strictObject({ sha256: z.string(), count: z.number().int() }).nullable(),
    backups: z.array(
      z.strictObject({
        backupId: z.string(),
        plaintextSha256: z.string(),
        rowCount: z.number().int(),
        recipients: z.array(z.string()),
      }),
    ),
  }),
});
export type Bundle = z.infer<typeof Bundle>;

export type BundleViolation = (
  | Violation
  | TrustViolation
  | { streamId: string; version: number; type: string; rule: 'checkpoint' | 'bundle'; message: string }
) & { streamId: string };

export interface BundleVerdict {
  ok: boolean;
  cutId: string;
  events: number;
  /** The checkpoint that covers the cut's last event, if any. */
  coveredBy: { version: number; root: string } | null;
  governanceVersion: number;
  violations: BundleViolation[];
}

/**
 * `cutter export <cut> --out <file>`: refuses (exit 3) unless a signed checkpoint covers the cut's
 * last event — without one, a dropped tail could not be told from the real end.
 */
export async function exportBundle(
  session: Session,
  cutId: string,
  out: string,
): Promise<{ cutId: string; out: string; events: number; checkpoint: number }> {
  checkOutputPath(out, '--out');
  const store = await session.store();
  const governance = await session.governance({ requirePin: true });
  const { events } = await loadCut(store, cutId);
  const checkpoints = await store.readStream(CHECKPOINT_STREAM);
  const streamId = cutStreamId(cutId);
  const head = events.at(-1)!;
  const covering = [...checkpoints]
    .reverse()
    .find((c) =>
      (fieldOf(c.data, 'streams') as { streamId: string; version: number }[] | undefined)?.some(
        (h) => h.streamId === streamId && h.version === head.version,
      ),
    );
  if (!covering)
    throw new GovernanceRefusedError(
      `cut ${cutId} has events after the latest checkpoint: record one first (\`cutter checkpoint --as ` +
        `<member>\`), then export`,
    );
  const backups = [];
  for (const e of events.filter((x) => x.type === 'BackupTaken')) {
    const b = await loadBackup(store.db, String(fieldOf(e.data, 'backupId')));
    if (b)
      backups.push({
        backupId: b.backupId,
        plaintextSha256: b.plaintextSha256,
        rowCount: b.rowCount,
        recipients: b.recipients,
      });
  }
  const set = fieldOf(fieldOf(events[0]!.data, 'plan'), 'changeSet') as { sha256: string; count: number } | undefined;
  const bundle: Bundle = {
    format: BUNDLE_FORMAT,
    cutId,
    trustRoot: governance.root!,
    exportedAt: new Date().toISOString(),
    streams: {
      cut: events,
      governance: await store.readStream(GOVERNANCE_STREAM),
      killswitch: await store.readStream(KILL_SWITCH_STREAM),
      checkpoints: checkpoints.filter((c) => c.version <= covering.version),
    },
    evidence: { changeSet: set ? { sha256: set.sha256, count: set.count } : null, backups },
  };
  writeTextFile(out, `${JSON.stringify(bundle)}\n`, '--out');
  return { cutId, out, events: events.length, checkpoint: covering.version };
}

/** Reads a bundle file (exit 2 naming the field when it is not one). */
export function readBundle(file: string): Bundle {
  return readJsonFile(file, Bundle, 'bundle');
}

/**
 * Verifies a bundle from `trustRoot` alone. Pure: no store, no network. Each stream's hash chain
 * and versions; the governance chain from the root; every event's signature, signer and role; the
 * cut through the machine and its trust checks; the kill-switch stream; every checkpoint's
 * signature and root, and that the bundle's streams hold each head a checkpoint names (a dropped or
 * changed event disagrees); one checkpoint must cover the cut's last event; the evidence hashes
 * must be the ones the events record.
 */
export function verifyBundle(bundle: Bundle, trustRoot: string, opts: { kept?: CheckpointFile } = {}): BundleVerdict {
  const streams: Record<string, StoredEvent[]> = {
    [cutStreamId(bundle.cutId)]: bundle.streams.cut as StoredEvent[],
    [GOVERNANCE_STREAM]: bundle.streams.governance as StoredEvent[],
    [KILL_SWITCH_STREAM]: bundle.streams.killswitch as StoredEvent[],
    [CHECKPOINT_STREAM]: bundle.streams.checkpoints as StoredEvent[],
  };
  const v: BundleViolation[] = chainViolations(streams);
  const governance = foldGovernance(streams[GOVERNANCE_STREAM]!, nodeCrypto, trustRoot);
  v.push(...governance.violations);
  if (!governance.root && !governance.violations.some((x) => x.rule === 'trust-root'))
    v.push({
      streamId: GOVERNANCE_STREAM,
      version: 0,
      type: '-',
      rule: 'trust-root',
      message: 'the bundle holds no governance genesis',
    });
  const ks = checkKillSwitchStream(streams[KILL_SWITCH_STREAM]!, governance, nodeCrypto);
  v.push(...ks.violations);
  const cutStream = cutStreamId(bundle.cutId);
  const cut = streams[cutStream]!;
  v.push(...replayCut(cut).violations.map((x) => ({ ...x, streamId: cutStream })));
  v.push(...checkCutTrust(cut, governance, nodeCrypto, ks.timeline));
  const checkpoints = checkpointViolations(streams, governance, cutStream);
  v.push(...checkpoints.violations);
  if (opts.kept) v.push(...freshnessViolations(streams[CHECKPOINT_STREAM]!, opts.kept, trustRoot));
  v.push(...evidenceViolations(bundle, cut, cutStream));
  return {
    ok: v.length === 0,
    cutId: bundle.cutId,
    events: cut.length,
    coveredBy: checkpoints.coveredBy,
    governanceVersion: governance.versions.length,
    violations: v,
  };
}

/** Each stream holds only its own events, and their hash chain links. */
function chainViolations(streams: Record<string, StoredEvent[]>): BundleViolation[] {
  const v: BundleViolation[] = [];
  for (const [streamId, events] of Object.entries(streams)) {
    const wrong = events.find((e) => e.streamId !== streamId);
    if (wrong)
      v.push({
        streamId,
        version: wrong.version,
        type: wrong.type,
        rule: 'bundle',
        message: `event ${wrong.eventId} belongs to stream ${wrong.streamId}`,
      });
    const broken = checkLinks(events);
    if (broken)
      v.push({
        streamId,
        version: broken.version,
        eventId: broken.eventId,
        type: events.find((e) => e.version === broken.version)?.type ?? '-',
        rule: 'hash-chain',
        message: broken.reason,
      });
  }
  return v;
}

/**
 * Every checkpoint's signature and root, and that the bundle's streams hold each head it names (a
 * dropped or changed event disagrees); one checkpoint must cover the cut's last event.
 */
function checkpointViolations(
  streams: Record<string, StoredEvent[]>,
  governance: ReturnType<typeof foldGovernance>,
  cutStream: string,
): { violations: BundleViolation[]; coveredBy: BundleVerdict['coveredBy'] } {
  const v: BundleViolation[] = [];
  const cut = streams[cutStream]!;
  let coveredBy: BundleVerdict['coveredBy'] = null;
  for (const c of streams[CHECKPOINT_STREAM]!) {
    v.push(...checkEventTrust(c, governance, nodeCrypto).violations);
    const cp = CheckpointRecorded.safeParse(c.data);
    if (!cp.success || headsRoot(cp.data.streams) !== cp.data.root) {
      v.push({
        streamId: CHECKPOINT_STREAM,
        version: c.version,
        type: c.type,
        rule: 'checkpoint',
        message: 'a malformed checkpoint, or its root is not the hash of its heads',
      });
      continue;
    }
    for (const h of cp.data.streams) {
      const events = streams[h.streamId];
      if (!events) continue; // a stream the bundle does not carry
      const e = events.find((x) => x.version === h.version);
      if (!e)
        v.push({
          streamId: h.streamId,
          version: h.version,
          type: '-',
          rule: 'checkpoint',
          message:
            `checkpoint ${c.version} names ${h.streamId} at version ${h.version}; the bundle ends at ` +
            `${events.length} (an event dropped)`,
        });
      else if (e.hash !== h.hash)
        v.push({
          streamId: h.streamId,
          version: h.version,
          type: e.type,
          rule: 'checkpoint',
          message: `checkpoint ${c.version} names ${h.streamId} version ${h.version} with another hash (changed)`,
        });
      else if (
        h.committed &&
        (e.transactionId !== h.committed.transactionId || e.globalPosition !== h.committed.globalPosition)
      )
        v.push({
          streamId: h.streamId,
          version: h.version,
          type: e.type,
          rule: 'checkpoint',
          message:
            `checkpoint ${c.version} names ${h.streamId} version ${h.version} committed at transaction ` +
            `${h.committed.transactionId}, position ${h.committed.globalPosition}; the bundle holds it at ` +
            `transaction ${e.transactionId}, position ${e.globalPosition} (moved in commit order)`,
        });
      if (h.streamId === cutStream && h.version === cut.length) coveredBy = { version: c.version, root: cp.data.root };
    }
  }
  if (!coveredBy)
    v.push({
      streamId: cutStream,
      version: cut.length,
      type: '-',
      rule: 'checkpoint',
      message: `no checkpoint in the bundle covers the cut's last event (version ${cut.length})`,
    });
  return { violations: v, coveredBy };
}

/**
 * Freshness: a consistent older prefix is an honest older bundle; a checkpoint the auditor kept
 * binds it — the bundle must carry that very checkpoint (and so everything it names).
 */
function freshnessViolations(checkpoints: StoredEvent[], kept: CheckpointFile, trustRoot: string): BundleViolation[] {
  const v: BundleViolation[] = [];
  const k = kept.event;
  const carried = checkpoints.find((c) => c.version === k.version);
  if (kept.trustRoot !== trustRoot)
    v.push({
      streamId: CHECKPOINT_STREAM,
      version: k.version,
      type: '-',
      rule: 'checkpoint',
      message: 'the kept checkpoint descends from another trust root',
    });
  else if (!carried)
    v.push({
      streamId: CHECKPOINT_STREAM,
      version: k.version,
      type: '-',
      rule: 'checkpoint',
      message: `the bundle is older than the kept checkpoint ${k.version}: it ends at checkpoint ${checkpoints.length}`,
    });
  else if (carried.hash !== k.hash || carried.eventId !== k.eventId)
    v.push({
      streamId: CHECKPOINT_STREAM,
      version: k.version,
      type: '-',
      rule: 'checkpoint',
      message: `the bundle's checkpoint ${k.version} is not the kept one (forked)`,
    });
  return v;
}

/** The evidence hashes (change set, backups) must be the ones the events record. */
function evidenceViolations(bundle: Bundle, cut: StoredEvent[], cutStream: string): BundleViolation[] {
  const v: BundleViolation[] = [];
  const planned = cut[0]?.data as { plan?: { changeSet?: { sha256: string; count: number } } } | undefined;
  const set = planned?.plan?.changeSet;
  if (set && (bundle.evidence.changeSet?.sha256 !== set.sha256 || bundle.evidence.changeSet.count !== set.count)) {
    v.push({
      streamId: cutStream,
      version: 1,
      type: 'CutPlanned',
      rule: 'bundle',
      message: 'the change set hash in the bundle is not the one the plan records',
    });
  }
  for (const e of cut.filter((x) => x.type === 'BackupTaken')) {
    const b = bundle.evidence.backups.find((x) => x.backupId === fieldOf(e.data, 'backupId'));
    if (!b || b.plaintextSha256 !== fieldOf(e.data, 'plaintextHash'))
      v.push({
        streamId: cutStream,
        version: e.version,
        type: e.type,
        rule: 'bundle',
        message: `backup ${String(fieldOf(e.data, 'backupId'))}: the bundle's hash is not the one BackupTaken records`,
      });
  }
  return v;
}

/** `cutter verify <file> --trust-root <root>`: never opens a store. */
export function verifyBundleFile(file: string, trustRoot: string, opts: { kept?: CheckpointFile } = {}): BundleVerdict {
  return verifyBundle(readBundle(file), trustRoot, opts);
}
