/**
 * Plan fuzzing, split in two generators (test/unit/fuzz.unit.test.ts, `npm run fuzz-campaign`):
 *
 * - `validPlanArb`: plans of valid structure whose string values are hostile — very long, SQL-looking,
 *   quotes and backslashes, NUL-free unicode, emoji, RTL marks, YAML-special leading characters,
 *   numbers and `null`/`true` as strings, whitespace and control characters. `checkValid` writes each
 *   as JSON and as YAML (in several styles), loads it through `parsePlan`, and asks for exactly the
 *   plan back: deep-equal, same plan hash.
 * - `brokenPlanArb`: a valid plan with ONE fault (a wrong type, a missing or extra field, a bad
 *   enum, an out-of-range value) and the path the refusal must name. `checkBroken` asks for an
 *   InvalidInputError with an issue at that path.
 *
 * Pure functions (no vitest), so the campaign script runs them too.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { Document, isScalar, parse, visit, type ToStringOptions } from 'yaml';
import { planHash, type CutPlan } from '../../events/plan.js';
import { parseConfig } from '../../src/config/load.js';
import { parsePlan } from '../../src/config/plan.js';
import { InvalidInputError } from '../../src/errors.js';

export const FUZZ_CONFIG = parseConfig(
  `targets:\n  kb: { url: "env:KB", table: public.documents, key: [id], columns: [title, body] }\n`,
);
export const MAX_ROWS = 50;
const ACTOR = 'erin';

const SQL = [
  "'; DROP TABLE x; --",
  "'; DROP TABLE documents; --",
  "1' OR '1'='1",
  '"; DELETE FROM public.documents; --',
  '$$; SELECT pg_sleep(10); $$',
  "'); TRUNCATE cutter.events CASCADE; --",
  "E'\\x41'",
  '/* */ SELECT 1; --',
  "\\'; COPY x TO PROGRAM 'id'; --",
  'x; DROP TABLE public.documents',
];
const QUOTES = [
  '"',
  "'",
  '`',
  '\\',
  '\\\\',
  '\\"',
  "\\'",
  '\\n',
  '\\u0000',
  '\\x00',
  '""',
  "''",
  '"quoted"',
  "it's",
  '%s%s%n',
  '${x}',
  '$1',
  '{{x}}',
];
const MARKS = [
  '\u200f',
  '\u200e',
  '\u202e',
  '\u202d',
  '\u2066',
  '\u2069',
  '\u061c',
  '\u200b',
  '\u200d',
  '\ufeff',
  '\u00a0',
  '\u2028',
  '\u2029',
  'e\u0301',
];
const EMOJI = ['🙂', '👩‍👩‍👧‍👦', '🏳️‍🌈', '🇫🇷', '👍🏽', '🧑‍💻', '✓', '∑', '𝔘𝔫𝔦', '中文', 'עברית', 'العربية', 'z̷̢͈a̶l̸g̵o'];
const YAML_LEADS = [
  ':',
  '#',
  '-',
  '?',
  '&',
  '*',
  '!',
  '|',
  '>',
  '%',
  '@',
  '`',
  "'",
  '"',
  '{',
  '[',
  ']',
  '}',
  ',',
  '~',
  '---',
  '...',
  '- ',
  '? ',
  ': ',
  '!!str ',
  '!!binary ',
  '&a ',
  '*a',
  '<<',
  '=',
  '|-',
  '>+',
];
const NUMBERISH = [
  '0',
  '-0',
  '00',
  '007',
  '1e309',
  '-1e309',
  '1e3',
  '.5',
  '+1',
  '0x1F',
  '0o17',
  '0b101',
  '1_000',
  'NaN',
  '.nan',
  '.inf',
  '-.Inf',
  'Infinity',
  '1.0',
  '12:30:00',
  '2026-11-25',
  '2026-11-25T10:00:00Z',
  '9007199254740993',
  '3.14159265358979323846',
];
const LITERALS = [
  'null',
  'Null',
  'NULL',
  '~',
  'true',
  'True',
  'TRUE',
  'false',
  'yes',
  'no',
  'on',
  'off',
  'y',
  'n',
  'Y',
  'undefined',
  'None',
];
const SPACES = [
  ' ',
  '  ',
  ' leading',
  'trailing ',
  '\t',
  '\n',
  'a\nb',
  'a\r\nb',
  '\r',
  'a\rb',
  '\n\n',
  'line\n  indented',
  ' \n ',
  'a\n',
  '\na',
];
const CONTROL = ['\u0001', '\u0007', '\u001b[31mred\u001b[0m', '\u007f', '\u0085', '\b', '\f', '\v'];

/** What makes a string hostile, for counting what the generators reached. */
export const CATEGORIES = {
  sql: (s: string) => /DROP TABLE|DELETE FROM|TRUNCATE|pg_sleep|OR '1'='1|COPY x TO/.test(s),
  long: (s: string) => s.length > 1000,
  quote: (s: string) => /["'`\\]/.test(s),
  unicode: (s: string) => [...s].some((ch) => ch.codePointAt(0)! > 0xff),
  emoji: (s: string) => /\p{Extended_Pictographic}/u.test(s),
  bidi: (s: string) => /[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]/.test(s),
  yamlLead: (s: string) => YAML_LEADS.some((l) => s.startsWith(l)),
  numberish: (s: string) => NUMBERISH.includes(s),
  literal: (s: string) => LITERALS.includes(s),
  space: (s: string) => /^\s|\s$|[\r\n\t]/.test(s),
  control: (s: string) =>
    [...s].some((ch) => {
      const c = ch.codePointAt(0)!;
      return (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f || c === 0x85;
    }),
};
export type Category = keyof typeof CATEGORIES;

const noNul = (s: string) => s.replaceAll('\u0000', '');
/** Lone surrogates replaced (as String.prototype.toWellFormed): PostgreSQL text holds only well-formed UTF-8. */
const wellFormed = (s: string) =>
  s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
const piece = fc.oneof(
  fc.constantFrom(...SQL),
  fc.constantFrom(...QUOTES),
  fc.constantFrom(...MARKS),
  fc.constantFrom(...EMOJI),
  fc.constantFrom(...YAML_LEADS),
  fc.constantFrom(...NUMBERISH),
  fc.constantFrom(...LITERALS),
  fc.constantFrom(...SPACES),
  fc.constantFrom(...CONTROL),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map(noNul),
  fc.string({ unit: 'binary', maxLength: 8 }).map((s) => noNul(wellFormed(s))),
);

/** A hostile string (possibly empty). */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(...SQL, ...QUOTES, ...MARKS, ...EMOJI, ...NUMBERISH, ...LITERALS, ...SPACES, ...CONTROL),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.constantFrom(...YAML_LEADS), fc.oneof(piece, fc.constant(''))).map(([a, b]) => a + b),
  },
  { weight: 3, arbitrary: fc.array(piece, { minLength: 1, maxLength: 5 }).map((p) => p.join('')) },
  // Long: a hostile piece repeated past 1,000 characters (up to 4,000), or a long run ending in SQL.
  {
    weight: 2,
    arbitrary: fc
      .tuple(piece, fc.integer({ min: 1001, max: 4000 }))
      .map(([p, n]) => wellFormed((p || 'x').repeat(Math.ceil(n / Math.max(1, (p || 'x').length))).slice(0, n))),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...SQL), fc.integer({ min: 1001, max: 3000 }))
      .map(([p, n]) => `${'a'.repeat(n)}${p}`),
  },
);
const nonEmptyHostile = hostileString.filter((s) => s.length > 0);

/** A non-key column value: mostly a hostile string, sometimes another JSON value. */
const columnValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: hostileString },
  {
    weight: 1,
    arbitrary: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(hostileString, { maxLength: 3 })),
  },
  // (A key named __proto__ is refused: see the extra:protoKey fault.)
  {
    weight: 1,
    arbitrary: fc.dictionary(
      fc.oneof(piece, fc.constantFrom('constructor', 'toString', 'hasOwnProperty', 'valueOf')),
      hostileString,
      { maxKeys: 3, noNullPrototype: true },
    ),
  },
);
const keyValue: fc.Arbitrary<string | number | boolean> = fc.oneof(
  { weight: 9, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.boolean()) },
);

type Row = Record<string, unknown>;
export type Change = { upsert: Row } | { delete: Row };

const change: fc.Arbitrary<Change> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record({ id: keyValue, title: columnValue, body: columnValue }, { noNullPrototype: true })
      .map((upsert): Change => ({ upsert })),
  },
  {
    weight: 1,
    arbitrary: fc.record({ id: keyValue }, { noNullPrototype: true }).map((del): Change => ({ delete: del })),
  },
);
const keyOf = (c: Change) => JSON.stringify('upsert' in c ? c.upsert.id : c.delete.id);

/** How a generated plan is written. */
export type Format =
  'json' | 'json-pretty' | 'yaml' | 'yaml-narrow' | 'yaml-literal' | 'yaml-single' | 'yaml-double' | 'yaml-flow';
const YAML_STYLES: Record<string, ToStringOptions> = {
  yaml: {},
  'yaml-narrow': { lineWidth: 20, minContentWidth: 0 },
  'yaml-literal': { defaultStringType: 'BLOCK_LITERAL' },
  'yaml-single': { defaultStringType: 'QUOTE_SINGLE' },
  'yaml-double': { defaultStringType: 'QUOTE_DOUBLE' },
  'yaml-flow': { collectionStyle: 'flow' },
};
export const FORMATS = ['json', 'json-pretty', ...Object.keys(YAML_STYLES)] as Format[];

/**
 * Strings yaml 2.9's writer does not keep with these options (found by trying them alone, at the
 * top and nested): its folding of long lines starting with a tab or space, of blank lines in a
 * double-quoted scalar, of a multi-line string starting with `-` or `?` in flow style, and a
 * whitespace-only string in a block scalar read back differently. Those are the writer's faults,
 * not the loader's; they are written instead as ASCII double-quoted scalars with escapes (also
 * valid YAML). Counted: see `writerFallbacks`.
 */
function writerKeeps(s: string, options: ToStringOptions): boolean {
  return [{ a: s }, { a: [{ b: { c: [s] } }] }].every((doc) => writerKept(new Document(doc).toString(options), doc));
}

const asciiQuoted = (s: string) =>
  JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** How many strings were written as escaped double-quoted scalars because the writer does not keep them. */
export const writerFallbacks = { strings: 0 };

export function serialize(raw: unknown, format: Format): string {
  if (format === 'json') return JSON.stringify(raw);
  if (format === 'json-pretty') return JSON.stringify(raw, null, 2);
  const options = YAML_STYLES[format]!;
  const text = new Document(raw).toString(options);
  if (writerKept(text, raw)) return text;
  const literals: string[] = [];
  const swap = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (writerKeeps(v, options)) return v;
      writerFallbacks.strings++;
      literals.push(asciiQuoted(v));
      return `fuzzliteral${literals.length - 1}x`;
    }
    if (Array.isArray(v)) return v.map(swap);
    if (v && typeof v === 'object') {
      const out = {};
      for (const [k, x] of Object.entries(v)) put(out, k, swap(x));
      return out;
    }
    return v;
  };
  const doc = new Document(swap(raw));
  visit(doc, {
    Scalar: (_key, node) =>
      void (
        isScalar(node) &&
        typeof node.value === 'string' &&
        /^fuzzliteral\d+x$/.test(node.value) &&
        (node.type = 'PLAIN')
      ),
  });
  return doc.toString(options).replace(/fuzzliteral(\d+)x/g, (_m, i: string) => literals[Number(i)]!);
}

function writerKept(text: string, raw: unknown): boolean {
  try {
    return isDeepStrictEqual(parse(text), raw);
  } catch {
    return false;
  }
}

export interface ValidCase {
  /** The plan as the operator writes it (no `author`: the actor's). */
  input: { id: string; target: 'kb'; author?: string; reason: string; changes: Change[] };
  /** Written as JSON and as one YAML style. */
  yaml: Format;
}

export const validPlanArb: fc.Arbitrary<ValidCase> = fc
  .record({
    id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$/),
    author: fc.option(nonEmptyHostile, { nil: undefined }),
    reason: nonEmptyHostile,
    changes: fc.uniqueArray(change, { minLength: 1, maxLength: 6, selector: keyOf }),
    yaml: fc.constantFrom(...FORMATS.filter((f) => f.startsWith('yaml'))),
  })
  .map(({ id, author, reason, changes, yaml }) => ({
    input: { id, target: 'kb' as const, ...(author !== undefined ? { author } : {}), reason, changes },
    yaml,
  }));

/** Every string a plan holds (values and keys of nested values included). */
export function stringsOf(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(stringsOf);
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [k, ...stringsOf(x)]);
  return [];
}

export type Verdict = { ok: true } | { ok: false; why: string };

/** Accepted from JSON and from YAML, each loaded back exactly: deep-equal, same plan hash. */
export function checkValid(c: ValidCase): Verdict {
  const expected: CutPlan = {
    id: c.input.id,
    target: 'kb',
    author: c.input.author ?? ACTOR,
    reason: c.input.reason,
    changes: c.input.changes,
  };
  const hash = planHash(expected);
  for (const format of ['json', c.yaml] as Format[]) {
    let got: CutPlan;
    try {
      got = parsePlan(serialize(c.input, format), FUZZ_CONFIG, { actor: ACTOR, maxRows: MAX_ROWS });
    } catch (err) {
      return { ok: false, why: `${format}: refused: ${(err as Error).message.slice(0, 300)}` };
    }
    if (!isDeepStrictEqual(got, expected))
      return { ok: false, why: `${format}: loaded back different: ${JSON.stringify(got).slice(0, 300)}` };
    if (planHash(got) !== hash) return { ok: false, why: `${format}: plan hash ${planHash(got)} differs from ${hash}` };
  }
  return { ok: true };
}

export interface BrokenCase {
  /** The kind of fault (counted: every kind must be reached). */
  fault: string;
  /** The path the refusal must name, as the operator wrote it: `changes[2].upsert.title`. */
  path: string;
  raw: Record<string, unknown>;
  format: Format;
}

type Raw = Record<string, any>;
const clone = (v: unknown): Raw => structuredClone(v) as Raw;
/** Sets an own property even for `__proto__`. */
const put = (o: Raw, k: string, v: unknown) =>
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
const rowOf = (c: Change): Raw => ('upsert' in c ? c.upsert : c.delete);
const opOf = (c: Change) => ('upsert' in c ? 'upsert' : 'delete');

/** One fault: applied to a valid plan (index `i` picks a change), the path it must be refused at. */
interface Fault {
  name: string;
  apply: (p: Raw, i: number, pick: number) => string;
}

const from = <T>(xs: readonly T[], pick: number): T => xs[pick % xs.length]!;
const WRONG = [42, -1.5, true, false, null, [], {}, ['x'], { a: 1 }];
const BAD_IDS = ['', 'bad id', '-dash-first', '.dot', 'x'.repeat(129), "'; DROP TABLE x; --", 'ünï', 'a/b', 'a\nb'];
const EXTRA_KEYS = [
  'extra',
  'Reason',
  'target ',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'toString',
  'changes.0',
  '🙂',
  "'; DROP TABLE x; --",
  'plan',
  'changeSet',
];
const EXTRA_COLUMNS = ['status', 'revision', 'Title', 'title ', 'ID', "'; DROP TABLE x; --", '🙂', 'updated_at'];
const BAD_OPS = ['remove', 'insert', 'Upsert', 'update', 'DELETE', 'upsert '];
const BAD_TARGETS = ['nope', 'KB', 'kb ', ' kb', "'; DROP TABLE x; --", 'documents', 'kb\u202e'];
const BAD_KEYS: unknown[] = [null, {}, [], ['A'], { id: 'A' }];

const FAULTS: Fault[] = [
  // Wrong types.
  { name: 'type:reason', apply: (p, _i, k) => ((p.reason = from(WRONG, k)), 'reason') },
  { name: 'type:target', apply: (p, _i, k) => ((p.target = from(WRONG, k)), 'target') },
  { name: 'type:author', apply: (p, _i, k) => ((p.author = from(WRONG, k)), 'author') },
  { name: 'type:id', apply: (p, _i, k) => ((p.id = from(WRONG, k)), 'id') },
  {
    name: 'type:changes',
    apply: (p, _i, k) => ((p.changes = from(['x', 1, true, null, {}, { upsert: {} }], k)), 'changes'),
  },
  {
    name: 'type:change',
    apply: (p, i, k) => ((p.changes[i] = from(['x', 1, true, null, [], {}], k)), `changes[${i}]`),
  },
  {
    name: 'type:row',
    apply: (p, i, k) => (
      (p.changes[i] = { [opOf(p.changes[i])]: from(['x', 1, true, null, [], ['A']], k) }),
      `changes[${i}]`
    ),
  },
  // Missing fields.
  { name: 'missing:reason', apply: (p) => (delete p.reason, 'reason') },
  { name: 'missing:target', apply: (p) => (delete p.target, 'target') },
  { name: 'missing:changes', apply: (p) => (delete p.changes, 'changes') },
  { name: 'missing:key', apply: (p, i) => (delete rowOf(p.changes[i]).id, `changes[${i}].${opOf(p.changes[i])}.id`) },
  {
    name: 'missing:column',
    apply: (p, i, k) => {
      if (!('upsert' in p.changes[i])) p.changes[i] = { upsert: { id: rowOf(p.changes[i]).id, title: 't', body: 'b' } };
      const col = from(['title', 'body'], k);
      delete p.changes[i].upsert[col];
      return `changes[${i}].upsert.${col}`;
    },
  },
  // Extra fields.
  { name: 'extra:top', apply: (p, _i, k) => (put(p, from(EXTRA_KEYS, k), 'x'), from(EXTRA_KEYS, k)) },
  { name: 'extra:changesFile', apply: (p) => ((p.changesFile = 'changes.ndjson'), 'changes') },
  {
    name: 'extra:change',
    apply: (p, i, k) => (
      put(
        p.changes[i],
        from(['extra', 'delete', 'upsert', '__proto__', 'where'], k) === opOf(p.changes[i])
          ? 'extra'
          : from(['extra', 'delete', 'upsert', '__proto__', 'where'], k),
        { id: 'x' },
      ),
      `changes[${i}]`
    ),
  },
  {
    name: 'extra:column',
    apply: (p, i, k) => (
      put(rowOf(p.changes[i]), from(EXTRA_COLUMNS, k), 'v'),
      `changes[${i}].${opOf(p.changes[i])}.${from(EXTRA_COLUMNS, k)}`
    ),
  },
  {
    name: 'extra:deleteColumn',
    apply: (p, i, k) => {
      const col = from(['title', 'body'], k);
      p.changes[i] = { delete: { id: rowOf(p.changes[i]).id, [col]: 'v' } };
      return `changes[${i}].delete.${col}`;
    },
  },
  {
    name: 'extra:protoKey',
    apply: (p, i, k) => {
      const row = rowOf(p.changes[i]);
      const op = opOf(p.changes[i]);
      if (k % 2 === 0 && op === 'upsert') {
        row.body = put({ a: 1 }, '__proto__', from(['v', { title: 'hidden' }], k >> 1));
        return `changes[${i}].upsert.body.__proto__`;
      }
      put(row, '__proto__', from(['x', { title: 'hidden', body: 'hidden' }], k >> 1));
      return `changes[${i}].${op}.__proto__`;
    },
  },
  // Bad enums.
  { name: 'enum:target', apply: (p, _i, k) => ((p.target = from(BAD_TARGETS, k)), 'target') },
  {
    name: 'enum:op',
    apply: (p, i, k) => ((p.changes[i] = { [from(BAD_OPS, k)]: rowOf(p.changes[i]) }), `changes[${i}]`),
  },
  // Out of range.
  { name: 'range:noChanges', apply: (p) => ((p.changes = []), 'changes') },
  {
    name: 'range:maxRows',
    apply: (p) => (
      (p.changes = Array.from({ length: MAX_ROWS + 1 }, (_, n) => ({ delete: { id: `row-${n}` } }))),
      'changes'
    ),
  },
  { name: 'range:id', apply: (p, _i, k) => ((p.id = from(BAD_IDS, k)), 'id') },
  { name: 'range:emptyReason', apply: (p) => ((p.reason = ''), 'reason') },
  { name: 'range:emptyAuthor', apply: (p) => ((p.author = ''), 'author') },
  { name: 'range:emptyTarget', apply: (p) => ((p.target = ''), 'target') },
  {
    name: 'range:keyValue',
    apply: (p, i, k) => ((rowOf(p.changes[i]).id = from(BAD_KEYS, k)), `changes[${i}].${opOf(p.changes[i])}.id`),
  },
  {
    name: 'range:duplicateKey',
    apply: (p, i) => {
      // The later of the two changes is the one refused.
      if (p.changes.length === 1) p.changes.push({ delete: { id: rowOf(p.changes[0]).id } });
      const j = i === p.changes.length - 1 ? 0 : i + 1;
      rowOf(p.changes[Math.max(i, j)]).id = rowOf(p.changes[Math.min(i, j)]).id;
      return `changes[${Math.max(i, j)}].${opOf(p.changes[Math.max(i, j)])}`;
    },
  },
  {
    name: 'range:nulValue',
    apply: (p, i, k) => ((rowOf(p.changes[i]).id = `a\u0000${k}`), `changes[${i}].${opOf(p.changes[i])}.id`),
  },
  { name: 'range:nulReason', apply: (p, _i, k) => ((p.reason = `why\u0000${k}`), 'reason') },
];
export const FAULT_NAMES = FAULTS.map((f) => f.name);

export const brokenPlanArb: fc.Arbitrary<BrokenCase> = fc
  .tuple(validPlanArb, fc.nat({ max: FAULTS.length - 1 }), fc.nat(), fc.nat(), fc.constantFrom(...FORMATS))
  .map(([valid, f, i, pick, format]) => {
    const raw = clone(valid.input);
    const fault = FAULTS[f]!;
    const path = fault.apply(raw, i % raw.changes.length, pick);
    return { fault: fault.name, path, raw, format };
  });

/** Refused with InvalidInputError, one of whose issues is at `path` (exactly: `changes[1]` is not `changes[10]`). */
export function checkBroken(c: BrokenCase): Verdict {
  try {
    parsePlan(serialize(c.raw, c.format), FUZZ_CONFIG, { actor: ACTOR, maxRows: MAX_ROWS });
  } catch (err) {
    if (!(err instanceof InvalidInputError))
      return { ok: false, why: `${c.fault}: refused with ${String(err)}, not an InvalidInputError` };
    const issues = (err.details.issues as string[] | undefined) ?? [];
    if (!err.message.startsWith('plan plan: '))
      return { ok: false, why: `${c.fault}: message does not name the plan: ${err.message.slice(0, 200)}` };
    const named = issues.some((line) => line.startsWith(c.path) && /^[:.[]/.test(line.slice(c.path.length)));
    return named
      ? { ok: true }
      : { ok: false, why: `${c.fault}: refused without naming ${c.path}: ${JSON.stringify(issues).slice(0, 300)}` };
  }
  return { ok: false, why: `${c.fault}: accepted (expected a refusal at ${c.path})` };
}
