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

/** What CutPlanned records of a target's definition (beside its name and table): never the URL. */
export interface TargetDefinition {
  key: string[];
  columns: string[];
  lifecycle: { column: string; value: string } | null;
}

/** The definition of a configured target as CutPlanned records it. */
export function targetDefinition(spec: TargetSpec): TargetDefinition {
  return { key: [...spec.key], columns: [...spec.columns], lifecycle: spec.lifecycle ? { ...spec.lifecycle } : null };
}

/** `schema.table`, whichever way the config spelled it (`documents` is `public.documents`). */
function qualified(table: string): string {
  try {
    const t = splitTable(table);
    return `${t.schema}.${t.table}`;
  } catch {
    return table;
  }
}

/**
 * How the configured target differs from the one the cut was planned (and approved) for: the table,
 * the key columns (in order), the content columns (as a set) and the lifecycle column and value.
 * A cut planned before the definition was recorded is held to its table alone. Empty when they
 * agree. Pure.
 */
export function targetDefinitionProblems(
  planned: { target: string; table: string; definition?: TargetDefinition | undefined },
  spec: TargetSpec,
): string[] {
  const problems: string[] = [];
  const name = `target ${planned.target}`;
  if (qualified(spec.table) !== qualified(planned.table))
    problems.push(`${name}: table is ${spec.table} in the config; the cut was planned for ${planned.table}`);
  const d = planned.definition;
  if (!d) return problems;
  const list = (xs: string[]) => (xs.length ? xs.join(', ') : '(none)');
  if (spec.key.join('\u0000') !== d.key.join('\u0000'))
    problems.push(`${name}: key is ${list(spec.key)} in the config; the cut was planned with ${list(d.key)}`);
  const have = [...spec.columns].sort();
  const want = [...d.columns].sort();
  if (have.join('\u0000') !== want.join('\u0000'))
    problems.push(
      `${name}: columns are ${list(spec.columns)} in the config; the cut was planned with ${list(d.columns)}`,
    );
  const lc = spec.lifecycle ?? null;
  const shown = (l: TargetDefinition['lifecycle']) => (l ? `${l.column} = ${JSON.stringify(l.value)}` : '(none)');
  if (lc?.column !== d.lifecycle?.column || lc?.value !== d.lifecycle?.value)
    problems.push(`${name}: lifecycle is ${shown(lc)} in the config; the cut was planned with ${shown(d.lifecycle)}`);
  return problems;
}
