/**
 * Migration 9: the append's plans use the indexes whatever the statistics say. Migration 7 caches
 * one generic plan per statement of `cutter.append_events` for the life of a connection
 * (`plan_cache_mode = force_generic_plan`), planned the first time the connection appends. On a
 * store whose tables were never analysed (a new store, or a server with autovacuum off, as on the
 * CI machine of 2026-12-01) and still small at that moment, the planner prefers a sequential scan
 * for the idempotency probe (`event_id = ANY (p_ids)`), and the connection keeps that plan while
 * the log grows: every append then reads the whole log. Measured on one connection, 10,000
 * single-event appends to a fresh store: 1,107 → 496 events/s as the log grew, 9,916 sequential
 * scans of `cutter.events`; with this setting 1,427 → 1,849 events/s and no sequential scan
 * (docs/BENCHMARKS.md, "A fresh store's appends: plans that never scan the log").
 *
 * Every statement of the function is a lookup by a key that has a unique index (the probe, the
 * idempotent re-read, the head by `stream_id`) or an insert, so a sequential scan is never the plan
 * wanted; `enable_seqscan = off` only makes the planner's choice not depend on statistics. The body,
 * signature, results and errors are migration 8's.
 */
const SIGNATURE = 'cutter.append_events(text, text, uuid[], text[], jsonb[], jsonb[], text[], timestamptz)';

export const APPEND_INDEX_PLANS = `
ALTER FUNCTION ${SIGNATURE} SET enable_seqscan = off;
`;
