/**
 * The store's vocabulary. The store is generic: any `{type, data, metadata?, id?}`; the domain
 * above it validates. Positions and transaction ids are strings (exact bigints).
 */
export interface NewEvent {
  type: string;
  data: unknown;
  metadata?: Record<string, unknown>;
  /** A UUID; generated when absent. Re-appending the same id with the same content is a no-op. */
  id?: string;
}

export interface StoredEvent {
  eventId: string;
  streamId: string;
  version: number;
  globalPosition: string;
  transactionId: string;
  type: string;
  /** The event's data as stored: parse it (events/index.ts `parseStored`) before use. */
  data: unknown;
  metadata: Record<string, any>;
  recordedAt: string;
  prevHash: string | null;
  hash: string;
}

/** A stream's current version (0 = new stream), or a condition on it. */
export type ExpectedVersion = number | 'any' | 'no_stream' | 'exists';

/** Where a global reader stands: after the event at (transaction id, position). */
export interface Cursor {
  txid: string;
  position: string;
}

export const START: Cursor = { txid: '0', position: '0' };

export interface AppendResult {
  /** The stream's version after the append. */
  nextVersion: number;
  /** The events as stored (for an idempotent re-append: the existing ones). */
  events: StoredEvent[];
  /** False when every event already existed (idempotent re-append). */
  appended: boolean;
}

export interface ChainReport {
  ok: boolean;
  checked: number;
  firstBroken?: { streamId: string; version: number; eventId: string; reason: string };
}

/** Metadata the store adds to every event. */
export interface AppendContext {
  actor?: string;
  correlationId?: string;
  causationId?: string;
}
