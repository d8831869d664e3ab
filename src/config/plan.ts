/**
 * Reads a plan file (YAML or JSON) and validates it twice: structurally (events/plan.ts) and
 * against its configured target (known target, every upsert names exactly the key and content
 * columns, every delete exactly the key, no key twice, at most policy.maxRows changes).
 * Errors name the path the operator wrote: `changes[3].upsert.id: required`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { canonicalJson } from '../../events/canonical.js';
import { Change, CutPlanInput, type ChangeSet, type CutPlan } from '../../events/plan.js';
import { InvalidInputError } from '../errors.js';
import { lines } from '../store/blobs.js';
import { fileChanges, inlineChanges, type ChangeSource } from './changes.js';
import { formatIssues } from './issues.js';
import { KeySet } from './keyset.js';
import type { CutterConfig } from './schema.js';

/** A validated plan and where its changes are read from. */
export interface LoadedPlan {
  plan: CutPlan;
  changes: ChangeSource;
  /** The change file (absolute path) when the plan names one: it is stored with the plan. */
  changesFile?: string;
}

/** Parses and structurally validates plan text; `actor` becomes the author when the plan names none. */
function parseInput(text: string, config: CutterConfig, file: string): CutPlanInput {
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new InvalidInputError(`plan ${file}: not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  const protos = protoKeys(raw, '');
  if (protos.length > 0)
    throw new InvalidInputError(`plan ${file}: ${protos.slice(0, 20).join('; ')}`, { issues: protos.slice(0, 20) });
  const parsed = CutPlanInput.safeParse(raw);
  if (!parsed.success) {
    const issues = formatIssues(parsed.error);
    throw new InvalidInputError(`plan ${file}: ${issues.join('; ')}`, { issues });
  }
  const input = parsed.data;
  const problems = [
    ...nulCharacters({ ...input, changes: undefined }, ''),
    ...(config.targets[input.target] ? [] : [unknownTarget(input.target, config)]),
  ];
  if (problems.length > 0) throw new InvalidInputError(`plan ${file}: ${problems.join('; ')}`, { issues: problems });
  return input;
}

const resolved = (input: CutPlanInput, opts: { actor: string; now?: Date }) => ({
  id: input.id ?? generatedId(input.target, opts.now ?? new Date()),
  target: input.target,
  author: input.author ?? opts.actor,
  reason: input.reason,
});

/** Parses and validates a plan whose changes are inline (see loadPlan for change files). */
export function parsePlan(
  text: string,
  config: CutterConfig,
  opts: { actor: string; file?: string; now?: Date; maxRows?: number },
): CutPlan {
  const file = opts.file ?? 'plan';
  const maxRows = opts.maxRows ?? Number.POSITIVE_INFINITY;
  const input = parseInput(text, config, file);
  if (!input.changes)
    throw new InvalidInputError(
      `plan ${file}: changesFile: a change file is read by \`cutter plan <file>\`, not from text`,
    );
  const spec = config.targets[input.target]!;
  const keyOf = (c: Change) =>
    canonicalJson(Object.fromEntries(spec.key.map((k) => [k, ('upsert' in c ? c.upsert : c.delete)[k] ?? null])));
  const check = changeChecker(
    input.target,
    config,
    (i) => `changes[${i}]`,
    (i, key) => keyOf(input.changes![i]!) === key,
  );
  const problems = [...nulCharacters(input.changes, 'changes'), ...input.changes.flatMap((c, i) => check(c, i))];
  if (input.changes.length > maxRows)
    problems.unshift(`changes: ${input.changes.length} rows exceed policy.maxRows ${maxRows}`);
  if (problems.length > 0)
    throw new InvalidInputError(`plan ${file}: ${problems.slice(0, 20).join('; ')}`, { issues: problems.slice(0, 20) });
  return { ...resolved(input, opts), changes: input.changes };
}

/** Reads a plan file from disk; a `changesFile` (relative to the plan) is validated line by line, streaming. */
/** `opts.maxRows` is the governance policy's limit (unlimited when absent). */
export async function loadPlan(
  file: string,
  config: CutterConfig,
  opts: { actor: string; now?: Date; maxRows?: number },
): Promise<LoadedPlan> {
  if (!existsSync(file)) throw new InvalidInputError(`plan: file ${file} not found`);
  const text = readFileSync(file, 'utf8');
  const input = parseInput(text, config, file);
  if (input.changes) {
    const plan = parsePlan(text, config, { ...opts, file });
    return { plan, changes: inlineChanges(plan.changes!) };
  }
  const changesFile = path.resolve(path.dirname(file), input.changesFile!);
  if (!existsSync(changesFile) || !statSync(changesFile).isFile())
    throw new InvalidInputError(`plan ${file}: changesFile: ${input.changesFile} not found`);
  const changeSet = await scanChangesFile(
    changesFile,
    input.target,
    config,
    file,
    opts.maxRows ?? Number.POSITIVE_INFINITY,
  );
  return { plan: { ...resolved(input, opts), changeSet }, changes: fileChanges(changesFile), changesFile };
}

/** Validates a change file (one JSON change per line) without holding it, and describes it. */
async function scanChangesFile(
  changesFile: string,
  target: string,
  config: CutterConfig,
  planFile: string,
  maxRows: number,
): Promise<ChangeSet> {
  const hash = createHash('sha256');
  let bytes = 0;
  async function* tapped() {
    for await (const chunk of createReadStream(changesFile) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
      yield chunk;
    }
  }
  // A duplicate key is confirmed by reading the earlier line again (after the scan), never assumed.
  const suspects: { line: number; key: string; problem: string }[] = [];
  const check = changeChecker(
    target,
    config,
    (n) => `changesFile line ${n}`,
    (line, key, problem) => {
      suspects.push({ line, key, problem });
      return true;
    },
  );
  const problems: string[] = [];
  let lineNo = 0;
  let count = 0;
  let upserts = 0;
  try {
    for await (const line of lines(tapped())) {
      lineNo++;
      if (line.trim() === '') continue;
      const at = `changesFile line ${lineNo}`;
      count++;
      if (count > maxRows) {
        problems.unshift(`changesFile: more than policy.maxRows ${maxRows} changes`);
        break;
      }
      const checked = checkLine(line, at, (change) => check(change, lineNo));
      problems.push(...checked.problems);
      if (checked.upsert) upserts++;
      if (problems.length >= 20) break;
    }
  } catch (err) {
    if (err instanceof TypeError)
      throw new InvalidInputError(`plan ${planFile}: changesFile line ${lineNo + 1}: not valid UTF-8`);
    throw err;
  }
  if (suspects.length) await dropUnconfirmed(problems, suspects, changesFile, config.targets[target]!.key);
  if (count === 0 && problems.length === 0) problems.push('changesFile: no changes');
  if (problems.length > 0)
    throw new InvalidInputError(`plan ${planFile}: ${problems.slice(0, 20).join('; ')}`, {
      issues: problems.slice(0, 20),
    });
  return { format: 'ndjson', sha256: hash.digest('hex'), bytes, count, upserts, deletes: count - upserts };
}

/** One line of a change file: a JSON change, no `__proto__` key, no NUL, valid for the target. */
function checkLine(
  line: string,
  at: string,
  check: (change: Change) => string[],
): { problems: string[]; upsert: boolean } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { problems: [`${at}: not a JSON object`], upsert: false };
  }
  const parsed = Change.safeParse(raw);
  const protos = protoKeys(raw, at);
  if (protos.length > 0) return { problems: protos, upsert: false };
  if (!parsed.success) return { problems: formatIssues(parsed.error, `${at}: `), upsert: false };
  return { problems: [...nulCharacters(parsed.data, at), ...check(parsed.data)], upsert: 'upsert' in parsed.data };
}

/**
 * A duplicate key is confirmed by reading the earlier line again: a suspect whose earlier line does
 * not hold that key (two keys that collided in the scan's key set) is dropped from `problems`.
 */
async function dropUnconfirmed(
  problems: string[],
  suspects: { line: number; key: string; problem: string }[],
  changesFile: string,
  keyCols: string[],
): Promise<void> {
  const keys = await keysAtLines(changesFile, new Set(suspects.map((s) => s.line)), keyCols);
  for (const s of suspects.filter((x) => keys.get(x.line) !== x.key)) problems.splice(problems.indexOf(s.problem), 1);
}

/** The canonical keys of the given lines of a change file. */
async function keysAtLines(file: string, wanted: Set<number>, keyCols: string[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let n = 0;
  for await (const line of lines(createReadStream(file))) {
    if (!wanted.has(++n)) continue;
    const c = JSON.parse(line) as Change;
    const row = 'upsert' in c ? c.upsert : c.delete;
    out.set(n, canonicalJson(Object.fromEntries(keyCols.map((k) => [k, row[k] ?? null]))));
  }
  return out;
}

const unknownTarget = (target: string, config: CutterConfig) =>
  `target: unknown target ${JSON.stringify(target)} (configured: ${Object.keys(config.targets).join(', ') || 'none'})`;

/**
 * Per-change checks against the target: columns, key values, no key twice (remembered across calls,
 * by number, so a million keys cost a map of short strings to small integers).
 */
function changeChecker(
  target: string,
  config: CutterConfig,
  label: (n: number) => string,
  confirm: (n: number, key: string, problem: string) => boolean,
): (change: Change, n: number) => string[] {
  const spec = config.targets[target]!;
  const keyCols = spec.key;
  const upsertCols = new Set([...spec.key, ...spec.columns]);
  const keyOnly = new Set(keyCols);
  const seen = new KeySet();
  return (change, n) => {
    const at = label(n);
    const problems: string[] = [];
    const [op, row] = 'upsert' in change ? (['upsert', change.upsert] as const) : (['delete', change.delete] as const);
    const allowed = op === 'upsert' ? upsertCols : keyOnly;
    for (const col of Object.keys(row)) {
      if (!allowed.has(col)) problems.push(`${at}.${op}.${col}: unknown column for ${op} on target ${target}`);
    }
    for (const col of allowed) {
      if (!(col in row)) problems.push(`${at}.${op}.${col}: required`);
    }
    for (const col of keyCols) {
      const v = row[col];
      if (v === null || (typeof v === 'object' && v !== undefined))
        problems.push(`${at}.${op}.${col}: a key value must be a string, number or boolean`);
    }
    const key = canonicalJson(Object.fromEntries(keyCols.map((c) => [c, row[c] ?? null])));
    const first = seen.add(key, n);
    const duplicate = `${at}.${op}: key ${key} already changed by ${first === undefined ? '' : label(first)}`;
    if (first !== undefined && confirm(first, key, duplicate)) problems.push(duplicate);
    return problems;
  };
}

/**
 * A key named `__proto__` (JSON and YAML parse it as an own key) is not kept by validation: the
 * value would be dropped silently, so the plan recorded would not be the plan written. Refused,
 * naming where it is.
 */
function protoKeys(value: unknown, at: string): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => protoKeys(v, `${at}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => {
      const here = at ? `${at}.${k}` : k;
      return k === '__proto__' ? [`${here}: a key named __proto__ cannot be kept intact`] : protoKeys(v, here);
    });
  }
  return [];
}

/** PostgreSQL text and jsonb cannot hold U+0000: refuse it up front, naming where it is. */
function nulCharacters(value: unknown, at: string): string[] {
  if (typeof value === 'string')
    return value.includes('\u0000')
      ? [`${at || '(root)'}: contains a NUL character, which PostgreSQL cannot store`]
      : [];
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
