/**
 * Canonical JSON's direct path against the library that defines it: `canonicalJson` must give
 * exactly the bytes (or the error) of `libraryCanonicalJson` (`canonicalize`, RFC 8785's reference
 * implementation) for every value — plain JSON, and anything else a caller could pass.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, libraryCanonicalJson, sha256 } from '../../events/canonical.js';

/** What `canonicalJson` does with `v`: its text, or the error it throws. */
function slow(v: unknown): { text: string } | { error: string } {
  try {
    return { text: libraryCanonicalJson(v) };
  } catch (err) {
    return { error: String(err) };
  }
}
function fast(v: unknown): { text: string } | { error: string } {
  try {
    return { text: canonicalJson(v) };
  } catch (err) {
    return { error: String(err) };
  }
}

const withProto = Object.create(null) as Record<string, unknown>;
withProto.b = 1;
withProto.a = [true, null];
const cyclic: Record<string, unknown> = { a: 1 };
cyclic.self = cyclic;
let deep: unknown = 'leaf';
for (let i = 0; i < 100; i++) deep = { [`k${i}`]: deep, list: [i] };

describe('canonicalJson', () => {
  it('gives the bytes canonicalize gives for any JSON value (keys in UTF-16 order, numbers, escapes)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(fast(v)).toEqual(slow(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('and for anything at all: undefined, toJSON, boxed values, NaN, surrogates, sparse arrays (same text or same error)', () => {
    fc.assert(
      fc.property(
        fc.anything({ withBoxedValues: true, withDate: true, withMap: true, withNullPrototype: true }),
        (v) => {
          expect(fast(v)).toEqual(slow(v));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['key order by UTF-16 code unit', { b: 1, a: 2, é: 3, Z: 4, '\u{1F600}': 5, aa: 6, '': 7 }],
    ['negative zero and exponents', [-0, 1e21, 1e-7, 0.1 + 0.2, -1.5e300]],
    ['escapes', ['"\\\n\t\u0000\u001f\u2028 é €']],
    ['a lone surrogate (refused)', ['\ud800']],
    ['a lone surrogate in a key (refused)', { '\udc00': 1 }],
    ['a surrogate pair', ['\u{1F600}']],
    ['undefined in an object and an array', { a: undefined, b: [undefined, 1] }],
    ['a Date (toJSON)', { at: new Date(0) }],
    ['an object without prototype', withProto],
    ['NaN (refused)', [Number.NaN]],
    ['Infinity (refused)', { x: Infinity }],
    ['a cycle (refused)', cyclic],
    ['100 levels deep', deep],
    ['undefined (refused)', undefined],
  ])('%s', (_, v) => {
    expect(fast(v)).toEqual(slow(v));
  });
});

describe('sha256', () => {
  it('is the hex SHA-256 of the UTF-8 bytes, for strings and bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uint8Array()), (input) => {
        expect(sha256(input)).toBe(createHash('sha256').update(input).digest('hex'));
      }),
      { numRuns: 500 },
    );
    expect(sha256('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});
