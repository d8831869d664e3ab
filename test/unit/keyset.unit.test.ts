/** KeySet: the compact duplicate-key detector behind change-file validation. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeySet } from '../../src/config/keyset.js';

describe('KeySet', () => {
  it('reports exactly the repeated keys, with the first change that used them, across growth', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 6 }), { maxLength: 400 }), (keys) => {
        const set = new KeySet(4);
        const first = new Map<string, number>();
        keys.forEach((k, i) => {
          const hit = set.add(k, i);
          expect(hit).toBe(first.get(k));
          if (!first.has(k)) first.set(k, i);
        });
      }),
    );
  });
});
