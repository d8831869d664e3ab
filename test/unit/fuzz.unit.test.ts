/**
 * Input fuzzing, split: valid-structure plans with hostile string values are accepted and load back
 * exactly from JSON and YAML (same plan hash); broken plans (one fault each) are refused with an
 * InvalidInputError naming the faulty path. Generators: test/support/plan-fuzz.ts (the long run is
 * `npm run fuzz-campaign`). Arbitrary text never crashes the loader; hostile identifiers in configs
 * are refused.
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { parsePlan } from '../../src/config/plan.js';
import { InvalidInputError } from '../../src/errors.js';
import {
  brokenPlanArb,
  CATEGORIES,
  checkBroken,
  checkValid,
  FAULT_NAMES,
  stringsOf,
  validPlanArb,
  writerFallbacks,
  type Category,
} from '../support/plan-fuzz.js';

const config = parseConfig(
  `targets:\n  kb: { url: "env:KB", table: public.documents, key: [id], columns: [title, body] }\n`,
);

describe('fuzzed plans', () => {
  it('valid structure, hostile values: every one accepted and loaded back exactly from JSON and YAML', () => {
    let runs = 0;
    let accepted = 0;
    const plansWith = new Map<Category, number>();
    const fallbacksBefore = writerFallbacks.strings;
    fc.assert(
      fc.property(validPlanArb, (c) => {
        runs++;
        const verdict = checkValid(c);
        expect(verdict).toEqual({ ok: true });
        accepted++;
        const strings = stringsOf(c.input);
        for (const [name, is] of Object.entries(CATEGORIES) as [Category, (s: string) => boolean][]) {
          if (strings.some(is)) plansWith.set(name, (plansWith.get(name) ?? 0) + 1);
        }
      }),
      { numRuns: 300 },
    );
    const pct = (n: number) => Math.round((100 * n) / runs);
    const fallbacks = writerFallbacks.strings - fallbacksBefore;
    console.log(
      `valid plans: ${accepted}/${runs} accepted; plans holding a string that is ${[...plansWith].map(([k, n]) => `${k} ${pct(n)}%`).join(', ')}; ${fallbacks} strings escaped for the YAML writer`,
    );
    expect(accepted / runs).toBe(1);
    // The YAML writer's faults are stepped around for few strings (a broken loader would show as many).
    expect(fallbacks).toBeLessThanOrEqual(runs * 0.05);
    // The hostile strings were really there.
    expect(pct(plansWith.get('sql') ?? 0)).toBeGreaterThanOrEqual(25);
    expect(pct(plansWith.get('long') ?? 0)).toBeGreaterThanOrEqual(25);
    for (const name of Object.keys(CATEGORIES) as Category[])
      expect(pct(plansWith.get(name) ?? 0), name).toBeGreaterThanOrEqual(5);
  });

  it('broken plans (wrong type, missing or extra field, bad enum, out of range): every one refused, naming the path', () => {
    let runs = 0;
    let accepted = 0;
    const faults = new Map<string, number>();
    fc.assert(
      fc.property(brokenPlanArb, (c) => {
        runs++;
        faults.set(c.fault, (faults.get(c.fault) ?? 0) + 1);
        const verdict = checkBroken(c);
        if (verdict.ok === false && verdict.why.includes(': accepted')) accepted++;
        expect(verdict).toEqual({ ok: true });
      }),
      { numRuns: 400 },
    );
    console.log(
      `broken plans: ${accepted}/${runs} accepted; ${faults.size} kinds of fault: ${[...faults].map(([k, n]) => `${k} ${n}`).join(', ')}`,
    );
    expect(accepted).toBe(0);
    expect([...faults.keys()].sort()).toEqual([...FAULT_NAMES].sort());
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
  const ident = fc.oneof(
    fc.constantFrom('documents', 'public.documents', 'a; DROP TABLE x', '"x"', 'a b', 'x--', 'ünïcode', 'a'.repeat(70)),
    fc.string({ maxLength: 12 }),
  );
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
