/** KeySet: the compact duplicate-key detector behind change-file validation. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeySet } from '../../src/config/keyset.js';

describe('KeySet', () => {
  it('reports exactly the repeated keys, sized right or too small (the table then grows)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 6 }), { maxLength: 400 }),
        fc.integer({ min: 0, max: 500 }),
        (keys, expected) => {
          const set = new KeySet(expected);
          const seen = new Set<string>();
          for (const k of keys) {
            expect(set.add(k)).toBe(seen.has(k));
            seen.add(k);
          }
        },
      ),
    );
  });
});
