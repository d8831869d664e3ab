/**
 * Migration 5: cheaper appends, measured (docs/BENCHMARKS.md).
 * - NOTIFY only when someone follows: followers register their backend in `cutter.subscribers`
 *   before they catch up, so an append that sees no subscriber has no one to wake (a follower also
 *   polls). NOTIFY serialises every notifying commit on one server-wide queue lock.
 * - The stream head is no longer locked FOR UPDATE: the per-stream advisory lock taken first
 *   already serialises appenders of a stream.
 * - The global cursor's index becomes the primary key (transaction_id, global_position): one
 *   index fewer to maintain per event.
 */
import { APPEND_FUNCTION } from './append-function.js';

function edit(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`append-v2: pattern not found: ${from}`);
  return text.replace(from, to);
}

let fn = edit(APPEND_FUNCTION, 'CREATE FUNCTION cutter.append_events(', 'CREATE OR REPLACE FUNCTION cutter.append_events(');
fn = edit(fn, 'WHERE s.stream_id = p_stream FOR UPDATE;', 'WHERE s.stream_id = p_stream;');
fn = edit(fn, "PERFORM pg_notify('cutter_events', p_stream);", "IF EXISTS (SELECT 1 FROM cutter.subscribers) THEN\n    PERFORM pg_notify('cutter_events', p_stream);\n  END IF;");

export const APPEND_V2 = `
CREATE TABLE cutter.subscribers (
  backend_pid integer PRIMARY KEY,
  since       timestamptz NOT NULL DEFAULT now()
);
${fn}
ALTER TABLE cutter.events DROP CONSTRAINT events_pkey;
ALTER TABLE cutter.events ADD CONSTRAINT events_pkey PRIMARY KEY (transaction_id, global_position);
DROP INDEX cutter.events_global_cursor;
`;
