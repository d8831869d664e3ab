/**
 * What an adapter needs to know about a configured target (resolved from cutter.config.yaml):
 * the database URL (secret: never logged or recorded), a validated table and column identifiers.
 */
export interface TargetSpec {
  /** The configured target name (plans refer to it). */
  name: string;
  /** Resolved connection URL; may contain a password. Never put it in events, logs or reports. */
  url: string;
  /** Table, optionally schema-qualified: `documents` or `public.documents`. Validated identifiers. */
  table: string;
  /** Key columns (at least one). */
  key: string[];
  /** Content columns a plan may set (key columns excluded). */
  columns: string[];
  /** Optional lifecycle column set by the enact phase on upserted keys. */
  lifecycle?: { column: string; value: string };
}

/** A plain SQL identifier: letters, digits, underscore, not starting with a digit, ≤ 63 bytes. */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Splits `schema.table` (or `table`, schema `public`) into validated identifiers. */
export function splitTable(table: string): { schema: string; table: string } {
  const parts = table.split('.');
  const [a, b] = parts;
  if (parts.length === 1 && a && IDENTIFIER.test(a)) return { schema: 'public', table: a };
  if (parts.length === 2 && a && b && IDENTIFIER.test(a) && IDENTIFIER.test(b)) return { schema: a, table: b };
  throw new Error(`invalid table identifier: ${JSON.stringify(table)}`);
}
