/**
 * Reads a plan file (YAML or JSON) and validates it twice: structurally (events/plan.ts) and
 * against its configured target (known target, every upsert names exactly the key and content
 * columns, every delete exactly the key, no key twice, at most policy.maxRows changes).
 * Errors name the path the operator wrote: `changes[3].upsert.id: required`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { canonicalJson } from '../../events/canonical.js';
import { CutPlan, CutPlanInput } from '../../events/plan.js';
import { InvalidInputError } from '../errors.js';
import { formatIssues } from './issues.js';
import type { CutterConfig } from './schema.js';

/** Parses and validates plan text. `actor` becomes the author when the plan names none. */
export function parsePlan(text: string, config: CutterConfig, opts: { actor: string; file?: string; now?: Date }): CutPlan {
  const file = opts.file ?? 'plan';
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new InvalidInputError(`plan ${file}: not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = CutPlanInput.safeParse(raw);
  if (!parsed.success) {
    const lines = formatIssues(parsed.error);
    throw new InvalidInputError(`plan ${file}: ${lines.join('; ')}`, { issues: lines });
  }
  const input = parsed.data;
  const problems = [...nulCharacters(input, ''), ...checkAgainstTarget(input, config)];
  if (problems.length > 0) throw new InvalidInputError(`plan ${file}: ${problems.join('; ')}`, { issues: problems });
  return {
    ...input,
    id: input.id ?? generatedId(input.target, opts.now ?? new Date()),
    author: input.author ?? opts.actor,
  };
}

/** Reads a plan file from disk; see parsePlan. */
export function loadPlan(file: string, config: CutterConfig, opts: { actor: string }): CutPlan {
  if (!existsSync(file)) throw new InvalidInputError(`plan: file ${file} not found`);
  return parsePlan(readFileSync(file, 'utf8'), config, { ...opts, file });
}

function checkAgainstTarget(plan: CutPlanInput, config: CutterConfig): string[] {
  const target = config.targets[plan.target];
  if (!target) {
    return [`target: unknown target ${JSON.stringify(plan.target)} (configured: ${Object.keys(config.targets).join(', ') || 'none'})`];
  }
  const problems: string[] = [];
  if (plan.changes.length > config.policy.maxRows) {
    problems.push(`changes: ${plan.changes.length} rows exceed policy.maxRows ${config.policy.maxRows}`);
  }
  const keyCols = target.key;
  const upsertCols = new Set([...target.key, ...target.columns]);
  const seen = new Map<string, number>();
  plan.changes.forEach((change, i) => {
    const [op, row] = 'upsert' in change ? (['upsert', change.upsert] as const) : (['delete', change.delete] as const);
    const allowed = op === 'upsert' ? upsertCols : new Set(keyCols);
    for (const col of Object.keys(row)) {
      if (!allowed.has(col)) problems.push(`changes[${i}].${op}.${col}: unknown column for ${op} on target ${plan.target}`);
    }
    for (const col of allowed) {
      if (!(col in row)) problems.push(`changes[${i}].${op}.${col}: required`);
    }
    for (const col of keyCols) {
      const v = row[col];
      if (v === null || (typeof v === 'object' && v !== undefined)) problems.push(`changes[${i}].${op}.${col}: a key value must be a string, number or boolean`);
    }
    const key = canonicalJson(Object.fromEntries(keyCols.map((c) => [c, row[c] ?? null])));
    const first = seen.get(key);
    if (first !== undefined) problems.push(`changes[${i}].${op}: key ${key} already changed by changes[${first}]`);
    else seen.set(key, i);
  });
  return problems.slice(0, 20);
}

/** PostgreSQL text and jsonb cannot hold U+0000: refuse it up front, naming where it is. */
function nulCharacters(value: unknown, at: string): string[] {
  if (typeof value === 'string') return value.includes('\u0000') ? [`${at || '(root)'}: contains a NUL character, which PostgreSQL cannot store`] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => nulCharacters(v, `${at}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [
      ...(k.includes('\u0000') ? [`${at || '(root)'}: a key contains a NUL character`] : []),
      ...nulCharacters(v, at ? `${at}.${k}` : k),
    ]);
  }
  return [];
}

function generatedId(target: string, now: Date): string {
  const day = now.toISOString().slice(0, 10).replaceAll('-', '');
  const safe = target.replace(/[^A-Za-z0-9._-]/g, '-');
  return `${safe}-${day}-${randomBytes(3).toString('hex')}`;
}
