/**
 * Reads a plan file (YAML or JSON) and validates it twice: structurally (events/plan.ts) and
 * against its configured target (known target, every upsert names exactly the key and content
 * columns, every delete exactly the key, no key twice, at most policy.maxRows changes).
 * Errors name the path the operator wrote: `changes[3].upsert.id: required`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { canonicalJson } from '../../events/canonical.js';
import { Change, CutPlanInput, type ChangeSet, type CutPlan } from '../../events/plan.js';
import { readTextFile } from './text-file.js';
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
  const firstUse = new Map<string, number>(); // inline changes are few: their keys themselves
  const check = changeChecker(input.target, config, (key, i, what) => {
    const first = firstUse.get(key);
    if (first === undefined) firstUse.set(key, i);
    return first === undefined ? undefined : `${what}: key ${key} already changed by changes[${first}]`;
  });
  const problems = [
    ...nulCharacters(input.changes, 'changes'),
    ...inexactNumbers(input.changes, 'changes'),
    ...input.changes.flatMap((c, i) => check(c, i, `changes[${i}]`)),
  ];
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
  const text = readTextFile(file, 'plan');
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
  // A repeated key is only suspected by the scan's compact key set, then confirmed by finding the
  // key itself on an earlier line (after the scan), never assumed.
  const seen = new KeySet(Math.min(await countLines(changesFile), maxRows + 1));
  const suspects: Suspect[] = [];
  const check = changeChecker(target, config, (key, line, what) => {
    if (!seen.add(key)) return undefined;
    const problem = `${what}: key ${key} already changed by an earlier line`;
    suspects.push({ line, key, what, problem });
    return problem;
  });
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
      const checked = checkLine(line, at, (change) => check(change, lineNo, at));
      problems.push(...checked.problems);
      if (checked.upsert) upserts++;
      if (problems.length >= 20) break;
    }
  } catch (err) {
    if (err instanceof TypeError)
      throw new InvalidInputError(`plan ${planFile}: changesFile line ${lineNo + 1}: not valid UTF-8`);
    throw err;
  }
  if (suspects.length) await confirmRepeats(problems, suspects, changesFile, config.targets[target]!.key);
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
  const dup = duplicateKey(line);
  if (dup !== undefined)
    return {
      problems: [`${at}: key ${JSON.stringify(dup)} appears twice in one object (JSON.parse would keep the last)`],
      upsert: false,
    };
  const parsed = Change.safeParse(raw);
  const protos = protoKeys(raw, at);
  if (protos.length > 0) return { problems: protos, upsert: false };
  if (!parsed.success) return { problems: formatIssues(parsed.error, `${at}: `), upsert: false };
  return {
    problems: [...nulCharacters(parsed.data, at), ...inexactNumbers(parsed.data, at), ...check(parsed.data)],
    upsert: 'upsert' in parsed.data,
  };
}

/**
 * The first key that appears twice in one object of a JSON text already known to parse, or
 * undefined. JSON.parse (and PostgreSQL's jsonb) keep the last of two equal keys, so a reviewer
 * reading `{"delete":{"id":"KB-5","id":"KB-6"}}` would see one row and the cut delete another;
 * inline YAML plans already refuse this. Keys are compared as JSON.parse reads them (escapes decoded).
 */
export function duplicateKey(text: string): string | undefined {
  const objects: (Set<string> | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) objects.push(new Set());
    else if (c === 0x5b /* [ */) objects.push(null);
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) objects.pop();
    else if (c === 0x22 /* " */) {
      const start = i;
      let escaped = false;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \\ */) {
          escaped = true;
          i++;
        } else if (d === 0x22) break;
      }
      const top = objects[objects.length - 1];
      if (!top) continue;
      let j = i + 1;
      while (j < text.length && (text[j] === ' ' || text[j] === '\t' || text[j] === '\n' || text[j] === '\r')) j++;
      if (text[j] !== ':') continue;
      const raw = text.slice(start, i + 1);
      const key = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      if (top.has(key)) return key;
      top.add(key);
    }
  }
  return undefined;
}

/** A change whose key the scan's key set has (probably) seen before, and the problem it was given. */
interface Suspect {
  line: number;
  key: string;
  what: string;
  problem: string;
}

/**
 * Confirms each suspect by reading the file again for the first line that holds its key: the
 * problem then names that line; a suspect with no such earlier line (two keys that collided in the
 * key set) is dropped from `problems`. Runs only when the scan suspected a repeat.
 */
async function confirmRepeats(problems: string[], suspects: Suspect[], file: string, keyCols: string[]): Promise<void> {
  const wanted = new Set(suspects.map((s) => s.key));
  const firstLine = new Map<string, number>();
  let n = 0;
  for await (const line of lines(createReadStream(file))) {
    n++;
    if (line.trim() === '') continue;
    const key = keyOfLine(line, keyCols);
    if (key !== undefined && wanted.has(key) && !firstLine.has(key)) firstLine.set(key, n);
  }
  for (const s of suspects) {
    const first = firstLine.get(s.key);
    const at = problems.indexOf(s.problem);
    if (first !== undefined && first < s.line)
      problems[at] = `${s.what}: key ${s.key} already changed by changesFile line ${first}`;
    else problems.splice(at, 1);
  }
}

/** The canonical key of one change line, or undefined when the line is not a change (already reported). */
function keyOfLine(line: string, keyCols: string[]): string | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = Change.safeParse(raw);
  if (!parsed.success) return undefined;
  const row = 'upsert' in parsed.data ? parsed.data.upsert : parsed.data.delete;
  return canonicalJson(Object.fromEntries(keyCols.map((k) => [k, row[k] ?? null])));
}

/** How many lines `file` has (newline bytes + 1): the key set is sized once for them. */
async function countLines(file: string): Promise<number> {
  let n = 1;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
  }
  return n;
}

const unknownTarget = (target: string, config: CutterConfig) =>
  `target: unknown target ${JSON.stringify(target)} (configured: ${Object.keys(config.targets).join(', ') || 'none'})`;

/**
 * Per-change checks against the target: columns, key values, and no key twice — `repeated(key, n,
 * where)` remembers each key across calls and returns the problem when `key` was used before.
 */
function changeChecker(
  target: string,
  config: CutterConfig,
  repeated: (key: string, n: number, what: string) => string | undefined,
): (change: Change, n: number, at: string) => string[] {
  const spec = config.targets[target]!;
  const keyCols = spec.key;
  const upsertCols = new Set([...spec.key, ...spec.columns]);
  const keyOnly = new Set(keyCols);
  return (change, n, at) => {
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
    const repeat = repeated(key, n, `${at}.${op}`);
    if (repeat !== undefined) problems.push(repeat);
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

/**
 * An integer beyond ±(2^53 − 1) in YAML or JSON is read as the nearest double: 9007199254740993
 * becomes 9007199254740992, another row's key. Refused, naming where it is, with the fix (quote it:
 * PostgreSQL casts the text to bigint or numeric exactly).
 */
function inexactNumbers(value: unknown, at: string): string[] {
  if (typeof value === 'number')
    return Number.isInteger(value) && !Number.isSafeInteger(value)
      ? [
          `${at || '(root)'}: the integer read as ${value} is beyond ±(2^53 - 1) and cannot be held exactly; ` +
            'write it as a string',
        ]
      : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => inexactNumbers(v, `${at}[${i}]`));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => inexactNumbers(v, at ? `${at}.${k}` : k));
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
