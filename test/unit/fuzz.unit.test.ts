/**
 * Input fuzzing: generated plans and configs — valid but nasty values and broken structures — are
 * either accepted with every value intact, or refused with InvalidInputError naming a path. Never
 * another exception.
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { parsePlan } from '../../src/config/plan.js';
import { InvalidInputError } from '../../src/errors.js';

const config = parseConfig(`targets:\n  kb: { url: "env:KB", table: public.documents, key: [id], columns: [title, body] }\n`);
const nasty = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom("'; DROP TABLE documents; --", '"quoted"', '\\', '$1', '${x}', '%s', '\u202e', '0', '1e309', 'null', 'NaN', 'x'.repeat(5000), '\u0000'),
  fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null),
);
const row = fc.record({ id: nasty, title: nasty, body: nasty }, { requiredKeys: [] });
const change = fc.oneof(fc.record({ upsert: row }), fc.record({ delete: fc.record({ id: nasty }) }), fc.record({ remove: row }), nasty);
const planText = fc.record({ target: fc.constantFrom('kb', 'nope', ''), reason: nasty, changes: fc.array(change, { maxLength: 6 }), extra: fc.option(nasty) }, { requiredKeys: ['changes'] })
  .chain((p) => fc.constantFrom(JSON.stringify(p), stringify(p)));

describe('fuzzed plans', () => {
  it('are accepted intact or refused with a path, never anything else', () => {
    fc.assert(
      fc.property(planText, (text) => {
        try {
          const plan = parsePlan(text, config, { actor: 'erin', maxRows: 50 });
          const raw = JSON.parse(JSON.stringify(plan.changes));
          expect(plan.changes).toEqual(raw);
          const source = (text.trimStart().startsWith('{') ? JSON.parse(text) : null) as { changes: unknown[] } | null;
          if (source) expect(plan.changes).toEqual(source.changes);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidInputError);
          expect((err as Error).message).toMatch(/^plan plan: .+: /);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never crash on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        try {
          parsePlan(text, config, { actor: 'erin', maxRows: 50 });
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidInputError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('fuzzed configs', () => {
  const ident = fc.oneof(fc.constantFrom('documents', 'public.documents', 'a; DROP TABLE x', '"x"', 'a b', 'x--', 'ünïcode', 'a'.repeat(70)), fc.string({ maxLength: 12 }));
  it('refuse hostile identifiers with a path, accept only plain ones', () => {
    fc.assert(
      fc.property(ident, ident, (table, column) => {
        const text = stringify({ targets: { kb: { url: 'env:KB', table, key: ['id'], columns: [column] } } });
        try {
          const c = parseConfig(text);
          expect(c.targets.kb?.table).toMatch(/^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$/);
          expect(c.targets.kb?.columns[0]).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidInputError);
          expect((err as Error).message).toMatch(/targets\.kb\.(table|columns)/);
        }
      }),
      { numRuns: 300 },
    );
  });
});
