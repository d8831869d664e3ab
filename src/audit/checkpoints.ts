/**
 * Checkpoints: record a signed statement of every stream head (after proving the log still
 * extends the previous checkpoint), export it as a file, and check any checkpoint — recorded or
 * kept outside the store — against the log as it is now.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CHECKPOINT_STREAM,
  CheckpointFile,
  CheckpointRecorded,
  headsRoot,
  type StreamHead,
} from '../../events/checkpoint.js';
import { toStorable } from '../../events/index.js';
import { MACHINE_VERSION } from '../domain/index.js';
import { checkEventTrust } from '../domain/trust.js';
import { GovernanceRefusedError, VerificationFailedError } from '../errors.js';
import { nodeCrypto, signEvents } from '../governance/authority.js';
import { readJsonFile } from '../config/json-file.js';
import { checkOutputPath, writeTextFile } from '../config/text-file.js';
import { sql } from '../store/connection.js';
import type { EventStore, StoredEvent } from '../store/index.js';
import { checkLinks } from '../store/chain.js';
import type { Session } from '../workspace/session.js';

export interface AnchorViolation {
  streamId: string;
  version: number;
  type: string;
  rule: 'checkpoint' | 'ledger';
  message: string;
}

/** Every stream's head as the events table holds it (not the heads table), but the checkpoints stream. */
export async function storeHeads(store: EventStore): Promise<StreamHead[]> {
  const rows = await store.db.query(sql`
    SELECT DISTINCT ON (stream_id) stream_id, version, hash, transaction_id::text AS transaction_id,
      global_position::text AS global_position FROM cutter.events
    WHERE stream_id <> ${CHECKPOINT_STREAM} ORDER BY stream_id, version DESC`);
  return rows.map(
    (r: { stream_id: string; version: number; hash: string; transaction_id: string; global_position: string }) => ({
      streamId: r.stream_id,
      version: Number(r.version),
      hash: r.hash,
      committed: { transactionId: r.transaction_id, globalPosition: r.global_position },
    }),
  );
}

/**
 * The ways the log no longer extends `heads`: a stream missing, shorter than its checkpointed
 * version, or holding another hash at that version. One query for all the streams.
 */
export async function checkHeads(
  store: EventStore,
  heads: StreamHead[],
  label: string,
  opts: { chain?: boolean } = {},
): Promise<AnchorViolation[]> {
  if (heads.length === 0) return [];
  if (opts.chain) return checkHeadsWithChains(store, heads, label);
  const rows = await store.db.query(sql`
    SELECT h.stream_id, h.version AS want, h.hash AS want_hash, e.hash AS have_hash,
           e.transaction_id::text AS have_transaction_id, e.global_position::text AS have_global_position,
           (SELECT max(x.version) FROM cutter.events x WHERE x.stream_id = h.stream_id) AS have_version
    FROM unnest(${heads.map((h) => h.streamId)}::text[], ${heads.map((h) => h.version)}::int[],
    ${heads.map((h) => h.hash)}::text[]) AS h(stream_id, version, hash)
    LEFT JOIN cutter.events e ON e.stream_id = h.stream_id AND e.version = h.version`);
  const out: AnchorViolation[] = [];
  const named = new Map(heads.map((h) => [`${h.streamId}\u0000${h.version}`, h]));
  for (const r of rows) {
    const at = { streamId: r.stream_id as string, version: Number(r.want), type: '-', rule: 'checkpoint' as const };
    const moved = movedMessage(label, named.get(`${r.stream_id}\u0000${r.want}`), {
      transactionId: r.have_transaction_id,
      globalPosition: r.have_global_position,
    });
    if (r.have_version === null)
      out.push({
        ...at,
        message: `${label} names stream ${r.stream_id} at version ${r.want}; the stream is missing (deleted or hidden)`,
      });
    else if (r.have_hash === null)
      out.push({
        ...at,
        message:
          `${label} names stream ${r.stream_id} at version ${r.want}; it now ends at version ` +
          `${r.have_version} (truncated)`,
      });
    else if (r.have_hash !== r.want_hash)
      out.push({
        ...at,
        message:
          `${label} names stream ${r.stream_id} version ${r.want} with hash ` +
          `${String(r.want_hash).slice(0, 12)}…; the log holds ${String(r.have_hash).slice(0, 12)}… (rewritten)`,
      });
    else if (moved) out.push({ ...at, message: moved });
  }
  return out;
}

/**
 * When `head` pins its event's place in commit order and the log holds that event elsewhere: the
 * message naming the move (the event was deleted and inserted again), else undefined.
 */
function movedMessage(
  label: string,
  head: StreamHead | undefined,
  have: { transactionId: string | null; globalPosition: string | null },
): string | undefined {
  const want = head?.committed;
  if (!head || !want || have.transactionId === null) return undefined;
  if (want.transactionId === have.transactionId && want.globalPosition === have.globalPosition) return undefined;
  return (
    `${label} names stream ${head.streamId} version ${head.version} committed at transaction ` +
    `${want.transactionId}, position ${want.globalPosition}; the log holds it at transaction ` +
    `${have.transactionId}, position ${have.globalPosition} (moved in commit order: deleted and inserted again)`
  );
}

/**
 * The same, with every event up to each named version re-hashed and re-linked (not only the stored
 * hash column compared): what a checkpoint check does when no replay walks the chains beside it.
 */
async function checkHeadsWithChains(store: EventStore, heads: StreamHead[], label: string): Promise<AnchorViolation[]> {
  const out: AnchorViolation[] = [];
  for (const h of heads) {
    const at = { streamId: h.streamId, version: h.version, type: '-', rule: 'checkpoint' as const };
    const events = await store.readStream(h.streamId, { toVersion: h.version });
    const broken = checkLinks(events);
    if (events.length === 0)
      out.push({
        ...at,
        message:
          `${label} names stream ${h.streamId} at version ${h.version}; the stream is missing ` + '(deleted or hidden)',
      });
    else if (broken)
      out.push({
        ...at,
        version: broken.version,
        message:
          `${label} names stream ${h.streamId} at version ${h.version}; the log's chain breaks at version ` +
          `${broken.version}: ${broken.reason}`,
      });
    else if (events.length < h.version)
      out.push({
        ...at,
        message:
          `${label} names stream ${h.streamId} at version ${h.version}; it now ends at version ` +
          `${events.length} (truncated)`,
      });
    else if (events.at(-1)!.hash !== h.hash)
      out.push({
        ...at,
        message:
          `${label} names stream ${h.streamId} version ${h.version} with hash ${h.hash.slice(0, 12)}…; the ` +
          `log holds ${events.at(-1)!.hash.slice(0, 12)}… (rewritten)`,
      });
    else {
      const last = events.at(-1)!;
      const moved = movedMessage(label, h, {
        transactionId: last.transactionId ?? null,
        globalPosition: last.globalPosition ?? null,
      });
      if (moved) out.push({ ...at, message: moved });
    }
  }
  return out;
}

export interface CheckpointResult {
  version: number;
  root: string;
  streams: number;
  governanceVersion: number;
  file: CheckpointFile;
  out?: string;
}

/**
 * `cutter checkpoint`: verifies the log still extends the previous checkpoint (VerificationFailed,
 * exit 4, naming the stream and version, when it does not), then records a new one signed by the
 * acting member and, with `out`, writes it as a file.
 */
export async function recordCheckpoint(session: Session, opts: { out?: string } = {}): Promise<CheckpointResult> {
  if (opts.out) checkOutputPath(opts.out, '--out'); // before anything is recorded
  const store = await session.store();
  const auth = await session.authority();
  // Like immudb's clients, the workspace keeps the last checkpoint it saw: the store must still
  // extend it (a truncated checkpoints stream cannot make "the previous one" an older one).
  const seen = lastSeenCheckpoint(session);
  if (seen) {
    const { violations, trust } = await checkCheckpointFile(store, seen.file, auth.governance.root);
    const reasons = [...trust, ...violations.map((v) => v.message)];
    if (reasons.length)
      throw new VerificationFailedError(
        `the log no longer extends the checkpoint this workspace last saw (${seen.path}): ${reasons[0]}`,
        { reasons },
      );
  }
  const existing = await store.readStream(CHECKPOINT_STREAM);
  const last = existing.at(-1);
  let previous: CheckpointRecorded['previous'] = null;
  if (last) {
    const prev = CheckpointRecorded.safeParse(last.data);
    if (!prev.success) throw new VerificationFailedError(`checkpoint ${last.version} in the store is malformed`);
    const broken = await checkHeads(store, prev.data.streams, `checkpoint ${last.version}`, { chain: true });
    if (broken.length)
      throw new VerificationFailedError(`the log no longer extends checkpoint ${last.version}: ${broken[0]!.message}`, {
        reasons: broken.map((b) => b.message),
      });
    previous = { version: last.version, root: prev.data.root };
  }
  const streams = await storeHeads(store);
  const data: CheckpointRecorded = {
    streams,
    root: headsRoot(streams),
    governanceVersion: auth.version,
    previous,
    at: new Date().toISOString(),
  };
  const signed = await signEvents(auth, CHECKPOINT_STREAM, existing.length, [
    toStorable({ type: 'CheckpointRecorded', data } as never, { machineVersion: MACHINE_VERSION }),
  ]);
  const result = await store.append(CHECKPOINT_STREAM, signed, {
    expectedVersion: existing.length === 0 ? 'no_stream' : existing.length,
    context: { actor: auth.signer.name },
  });
  const stored = result.events[0]!;
  const file = fileOf(stored, auth.governance.root!);
  rememberCheckpoint(session, file);
  if (opts.out) writeTextFile(opts.out, `${JSON.stringify(file, null, 2)}\n`, '--out');
  return {
    version: stored.version,
    root: data.root,
    streams: streams.length,
    governanceVersion: auth.version,
    file,
    ...(opts.out ? { out: opts.out } : {}),
  };
}

/** Where a workspace keeps the last checkpoint it recorded or verified. */
export const lastSeenPath = (session: Session) => path.join(session.root, '.cutter', 'last-checkpoint.json');

/** The workspace's last seen checkpoint, if any (a malformed one is an error, not ignored). */
export function lastSeenCheckpoint(session: Session): { path: string; file: CheckpointFile } | undefined {
  const file = lastSeenPath(session);
  return existsSync(file) ? { path: file, file: readCheckpointFile(file) } : undefined;
}

/** Remembers `file` as the newest checkpoint this workspace saw (only ever forward). */
export function rememberCheckpoint(session: Session, file: CheckpointFile): void {
  const seen = lastSeenCheckpoint(session);
  if (seen && seen.file.event.version >= file.event.version) return;
  mkdirSync(path.dirname(lastSeenPath(session)), { recursive: true });
  writeFileSync(lastSeenPath(session), `${JSON.stringify(file, null, 2)}\n`);
}

function fileOf(e: StoredEvent, trustRoot: string): CheckpointFile {
  return {
    format: 'cutter-checkpoint/1',
    trustRoot,
    event: {
      streamId: CHECKPOINT_STREAM,
      version: e.version,
      eventId: e.eventId,
      type: 'CheckpointRecorded',
      schemaVersion: Number(e.metadata.schemaVersion ?? 1),
      data: CheckpointRecorded.parse(e.data),
      signature: e.metadata.signature,
      hash: e.hash,
    },
  };
}

/** Reads and validates a checkpoint file (exit 2 naming the field when it is not one). */
export function readCheckpointFile(file: string): CheckpointFile {
  return readJsonFile(file, CheckpointFile, 'checkpoint');
}

/**
 * A kept checkpoint checked against the store: signed by a member enrolled under the pinned
 * governance (the file's trust root must be the pin), its root the hash of its heads, and the log
 * still extending every head it names.
 */
export async function checkCheckpointFile(
  store: EventStore,
  cp: CheckpointFile,
  pin: string | undefined,
  opts: { chain?: boolean } = {},
): Promise<{ violations: AnchorViolation[]; trust: string[] }> {
  const label = `checkpoint file (store version ${cp.event.version})`;
  const trust: string[] = [];
  if (pin && cp.trustRoot !== pin)
    trust.push(`${label} descends from trust root ${cp.trustRoot.slice(0, 16)}…, not the pinned ${pin.slice(0, 16)}…`);
  if (headsRoot(cp.event.data.streams) !== cp.event.data.root)
    trust.push(`${label}: its root is not the hash of the heads it lists`);
  const { readGovernance } = await import('../governance/authority.js');
  const governance = await readGovernance(store, pin ?? cp.trustRoot);
  const e = {
    streamId: CHECKPOINT_STREAM,
    version: cp.event.version,
    eventId: cp.event.eventId,
    type: cp.event.type,
    data: cp.event.data,
    metadata: { schemaVersion: cp.event.schemaVersion, signature: cp.event.signature },
  };
  for (const v of checkEventTrust(e, governance, nodeCrypto).violations)
    trust.push(`${label}: ${v.rule}: ${v.message}`);
  const violations = await checkHeads(store, cp.event.data.streams, label, { chain: opts.chain ?? true });
  // The checkpoint itself must still be in the log, unchanged.
  violations.push(
    ...(await checkHeads(
      store,
      [{ streamId: CHECKPOINT_STREAM, version: cp.event.version, hash: cp.event.hash }],
      label,
      { chain: opts.chain ?? true },
    )),
  );
  return { violations, trust };
}

/** `cutter checkpoint --verify <file>`: exit 4 (VerificationFailed) naming what no longer holds. */
export async function verifyCheckpoint(
  session: Session,
  file: string,
): Promise<{ file: string; version: number; streams: number; ok: true }> {
  const cp = readCheckpointFile(file);
  const store = await session.store();
  const pin = session.config().trust.root;
  if (!pin) throw new GovernanceRefusedError('no trust root is pinned: set trust.root in the config');
  const { violations, trust } = await checkCheckpointFile(store, cp, pin);
  const reasons = [...trust, ...violations.map((v) => v.message)];
  if (reasons.length)
    throw new VerificationFailedError(`the store does not extend ${file}: ${reasons[0]}`, { reasons });
  rememberCheckpoint(session, cp);
  return { file, version: cp.event.version, streams: cp.event.data.streams.length, ok: true };
}
