/**
 * The append's fast digest path against the slow, obvious one: `canonicalText` must give exactly the
 * bytes (or the error) of `canonicalJson`, and `preparedDigest` exactly `eventDigest` — the digest
 * every stored event's chain link covers and `verifyChain` recomputes. And the ids the store makes:
 * UUID version 7, ordered by their millisecond.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../events/canonical.js';
import { canonicalText, eventDigest, preparedDigest, timeOrderedUuid } from '../../src/store/append.js';

/** What `canonicalJson` does with `v`: its text, or the error it throws. */
function slow(v: unknown): { text: string } | { error: string } {
  try {
    return { text: canonicalJson(v) };
  } catch (err) {
    return { error: String(err) };
  }
}
function fast(v: unknown): { text: string } | { error: string } {
  try {
    return { text: canonicalText(v) };
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

describe('canonicalText', () => {
  it('gives the bytes canonicalJson gives for any JSON value (keys in UTF-16 order, numbers, escapes)', () => {
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

describe('preparedDigest', () => {
  it('equals eventDigest of the same event', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.jsonValue(),
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.date({ noInvalidDate: true }),
        (type, data, extra, at) => {
          const eventId = randomUUID();
          const metadata = { ...extra, eventId, host: 'h', pid: 1 };
          const recordedAt = at.toISOString();
          expect(
            preparedDigest({
              eventId,
              type,
              dataText: canonicalText(data),
              metadataText: canonicalText(metadata),
              recordedAt,
            }),
          ).toBe(eventDigest({ eventId, type, data, metadata, recordedAt }));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('is pinned: a fixed event has a fixed digest', () => {
    const e = {
      eventId: '00000000-0000-4000-8000-000000000000',
      type: 'Tick',
      data: { i: 1, note: 'é' },
      metadata: { eventId: '00000000-0000-4000-8000-000000000000', host: 'h', pid: 7 },
      recordedAt: '2026-11-25T00:00:00.000Z',
    };
    const digest = preparedDigest({ ...e, dataText: canonicalText(e.data), metadataText: canonicalText(e.metadata) });
    expect(digest).toBe(eventDigest(e));
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('timeOrderedUuid', () => {
  const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  it('is a version 7, RFC 9562 variant UUID whose first 48 bits are the milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (ms) => {
        const id = timeOrderedUuid(ms);
        expect(id).toMatch(UUID7);
        expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(ms);
      }),
    );
    expect(timeOrderedUuid(Date.UTC(2026, 0, 1))).toMatch(/^019b76da-a800-7/);
  });

  it('sorts by time across milliseconds, and is random within one', () => {
    const ids = [1, 2, 2 ** 32 - 1, 2 ** 32, 2 ** 40, Date.now()].map((ms) => timeOrderedUuid(ms));
    expect([...ids].sort()).toEqual(ids);
    const same = new Set(Array.from({ length: 1000 }, () => timeOrderedUuid(1)));
    expect(same.size).toBe(1000);
  });
});
