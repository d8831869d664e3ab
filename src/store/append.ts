/**
 * Appending: digests computed here (canonical JSON, independent of PostgreSQL's JSON text), the rest
 * in `cutter.append_events` — one statement, one round trip when called outside a transaction.
 * The digest is `eventDigest` (canonical JSON of the five fields, SHA-256); the append computes the
 * same bytes faster (`preparedDigest`: each field's canonical text once, reused as the jsonb
 * parameter), checked against `eventDigest` by test/unit/append-digest.unit.test.ts.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import { canonicalJson, sha256 } from '../../events/canonical.js';
import { ConcurrencyError, CutterError, GovernanceRefusedError, InvalidInputError } from '../errors.js';
import { prepared, sql, type Queryable } from './connection.js';
import type { AppendContext, AppendResult, ExpectedVersion, NewEvent, StoredEvent } from './types.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HOST = os.hostname();
/** Stream versions are PostgreSQL `integer`s: a stream holds at most 2^31 - 1 events. */
export const MAX_STREAM_VERSION = 2 ** 31 - 1;

/**
 * The expected version as the append function reads it: `'any'`, `'no_stream'`, `'exists'` (exactly
 * these spellings) or an integer 0 ≤ n ≤ 2^31 - 1. Anything else throws InvalidInputError naming it.
 */
export function expectedVersionText(value: unknown): string {
  if (value === 'any' || value === 'no_stream' || value === 'exists') return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_STREAM_VERSION)
    return String(value);
  const shown = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
  throw new InvalidInputError(
    `append: expectedVersion ${shown} is not one of 'any', 'no_stream', 'exists' or an integer from 0 to ${MAX_STREAM_VERSION}`,
  );
}

/** The digest an event's chain link covers. */
export function eventDigest(e: {
  eventId: string;
  type: string;
  data: unknown;
  metadata: unknown;
  recordedAt: string;
}): string {
  return sha256(
    canonicalJson({ eventId: e.eventId, type: e.type, data: e.data, metadata: e.metadata, recordedAt: e.recordedAt }),
  );
}

/**
 * `eventDigest` of an event whose data and metadata are already canonical text (`canonicalJson`):
 * the envelope's keys in canonical order (data, eventId, metadata, recordedAt, type) written
 * directly. The same bytes as `eventDigest({eventId, type, data, metadata, recordedAt})`.
 */
export function preparedDigest(e: {
  eventId: string;
  type: string;
  dataText: string;
  metadataText: string;
  recordedAt: string;
}): string {
  return sha256(
    `{"data":${e.dataText},"eventId":${canonicalJson(e.eventId)},"metadata":${e.metadataText},"recordedAt":${canonicalJson(e.recordedAt)},"type":${canonicalJson(e.type)}}`,
  );
}

/** Random bytes for event ids, drawn 4 KiB at a time (one `getrandom` per 256 ids, as `crypto.randomUUID` does). */
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

/** The next 16 unused bytes of the pool; each byte is handed out once. */
function randomSixteen(): Buffer {
  if (randomOffset + 16 > randomPool.length) {
    randomPool = crypto.randomBytes(4096);
    randomOffset = 0;
  }
  randomOffset += 16;
  return randomPool.subarray(randomOffset - 16, randomOffset);
}

/**
 * A new event id: a UUID version 7 (RFC 9562: 48-bit Unix milliseconds, then 74 random bits). Ids
 * made close in time sort close together, so the unique index on `event_id` grows at its right edge
 * like the other two indexes of `cutter.events`, instead of touching a random leaf page per event
 * (after every checkpoint, each such page costs a full-page image in the WAL).
 */
export function timeOrderedUuid(now: number = Date.now()): string {
  const b = randomSixteen();
  const high = Math.floor(now / 2 ** 32);
  b[0] = (high >>> 8) & 0xff;
  b[1] = high & 0xff;
  b.writeUInt32BE(now >>> 0, 2);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Appends `events` to `streamId` on `q` (a pool: its own implicit transaction; or a caller's
 * transaction). Throws ConcurrencyError (with the actual version) when `expectedVersion` does not hold.
 */
export async function appendToStream(
  q: Queryable,
  streamId: string,
  events: NewEvent[],
  opts: { expectedVersion?: ExpectedVersion; context?: AppendContext } = {},
): Promise<AppendResult> {
  if (events.length === 0) throw new InvalidInputError('append: no events');
  if (!streamId) throw new InvalidInputError('append: streamId is required');
  const expected = expectedVersionText(opts.expectedVersion === undefined ? 'any' : opts.expectedVersion);
  const recordedAt = new Date().toISOString();
  const ready = events.map((e) => prepareEvent(e, opts.context, recordedAt));
  let rows: any[];
  try {
    rows = await q.query(
      prepared(
        'cutter_append_events',
        sql`
      SELECT * FROM cutter.append_events(
        ${streamId}, ${expected},
        ${ready.map((p) => p.eventId)}::uuid[], ${ready.map((p) => p.type)}::text[],
        ${ready.map((p) => p.dataText)}::jsonb[], ${ready.map((p) => p.metadataText)}::jsonb[],
        ${ready.map((p) => p.digest)}::text[], ${recordedAt}::timestamptz)`,
      ),
    );
  } catch (err) {
    throw appendError(err, streamId, expected);
  }
  const existing = rows.length > 0 && rows.every((r) => r.r_existing);
  const stored: StoredEvent[] = rows.map((r, i) => {
    const p = ready[i]!;
    return {
      eventId: p.eventId,
      streamId,
      version: r.r_version,
      globalPosition: String(r.r_global_position),
      transactionId: r.r_transaction_id,
      type: p.type,
      data: p.data,
      metadata: p.metadata,
      recordedAt,
      prevHash: r.r_prev_hash,
      hash: r.r_hash,
    };
  });
  const nextVersion = stored.length ? Math.max(...stored.map((s) => s.version)) : 0;
  return { nextVersion, events: existing ? [] : stored, appended: !existing };
}

/** One event as the append function takes it: its id (time-ordered when none), metadata and digest. */
function prepareEvent(e: NewEvent, context: AppendContext | undefined, recordedAt: string) {
  const eventId = e.id ?? timeOrderedUuid();
  if (!UUID.test(eventId)) throw new InvalidInputError(`append: event id ${JSON.stringify(eventId)} is not a UUID`);
  const metadata = {
    ...e.metadata,
    eventId,
    ...(context?.actor ? { actor: context.actor } : {}),
    ...(context?.correlationId ? { correlationId: context.correlationId } : {}),
    ...(context?.causationId ? { causationId: context.causationId } : {}),
    host: HOST,
    pid: process.pid,
  };
  if (typeof e.type !== 'string') throw new InvalidInputError(`append: event type ${String(e.type)} is not a string`);
  const data = e.data ?? null;
  const dataText = canonicalJson(data);
  const metadataText = canonicalJson(metadata);
  return {
    eventId,
    type: e.type,
    data,
    metadata,
    dataText,
    metadataText,
    digest: preparedDigest({ eventId, type: e.type, dataText, metadataText, recordedAt }),
  };
}

/** The append function's errors in cutter's words: a lost race, an id reused for other content. */
function appendError(err: unknown, streamId: string, expected: string): unknown {
  const { code, constraint, message } = (err ?? {}) as { code?: string; constraint?: string; message?: string };
  if (code === 'CT409') return new ConcurrencyError(streamId, expected, Number(message?.match(/\d+/)?.[0] ?? -1));
  // CT425: the time this process records is more than five minutes from the store server's clock.
  if (code === 'CT425')
    return new GovernanceRefusedError(
      `append to ${streamId} refused: this machine's clock is ${message ?? '?'} s off the store server's ` +
        '(more than 300 s either way); set the clock right (NTP); nothing was recorded',
    );
  // CT422: the function found an id stored with other content; 23505 on the id's unique index: the
  // same id twice in this batch, or an id another stream's appender stored after the probe.
  if (code === 'CT422' || (code === '23505' && constraint === 'events_event_id_key'))
    return new CutterError('InvalidInput', `append to ${streamId}: an event id was already used for different content`);
  return err;
}
