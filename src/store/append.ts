/**
 * Appending: digests computed here (canonical JSON, independent of PostgreSQL's JSON text), the rest
 * in `cutter.append_events` — one statement, one round trip when called outside a transaction.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { canonicalJson, sha256 } from '../../events/canonical.js';
import { ConcurrencyError, CutterError, InvalidInputError } from '../errors.js';
import { sql, type Queryable } from './connection.js';
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
  const prepared = events.map((e) => {
    const eventId = e.id ?? randomUUID();
    if (!UUID.test(eventId)) throw new InvalidInputError(`append: event id ${JSON.stringify(eventId)} is not a UUID`);
    const metadata = {
      ...e.metadata,
      eventId,
      ...(opts.context?.actor ? { actor: opts.context.actor } : {}),
      ...(opts.context?.correlationId ? { correlationId: opts.context.correlationId } : {}),
      ...(opts.context?.causationId ? { causationId: opts.context.causationId } : {}),
      host: HOST,
      pid: process.pid,
    };
    const data = e.data ?? null;
    return {
      eventId,
      type: e.type,
      data,
      metadata,
      digest: eventDigest({ eventId, type: e.type, data, metadata, recordedAt }),
    };
  });
  let rows: any[];
  try {
    rows = await q.query(sql`
      SELECT * FROM cutter.append_events(
        ${streamId}, ${expected},
        ${prepared.map((p) => p.eventId)}::uuid[], ${prepared.map((p) => p.type)}::text[],
        ${prepared.map((p) => JSON.stringify(p.data))}::jsonb[], ${prepared.map((p) => JSON.stringify(p.metadata))}::jsonb[],
        ${prepared.map((p) => p.digest)}::text[], ${recordedAt}::timestamptz)`);
  } catch (err) {
    if ((err as { code?: string })?.code === 'CT409') {
      throw new ConcurrencyError(streamId, expected, Number((err as Error).message.match(/\d+/)?.[0] ?? -1));
    }
    if ((err as { code?: string })?.code === 'CT422') {
      throw new CutterError(
        'InvalidInput',
        `append to ${streamId}: an event id was already used for different content`,
      );
    }
    throw err;
  }
  const existing = rows.length > 0 && rows.every((r) => r.r_existing);
  const stored: StoredEvent[] = rows.map((r, i) => {
    const p = prepared[i]!;
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
