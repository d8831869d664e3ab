/**
 * The append's fast digest path against the slow, obvious one: `preparedDigest` must give exactly
 * `eventDigest` — the digest every stored event's chain link covers and `verifyChain` recomputes.
 * And the ids the store makes: UUID version 7, ordered by their millisecond.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../events/canonical.js';
import { eventDigest, preparedDigest, timeOrderedUuid } from '../../src/store/append.js';

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
              dataText: canonicalJson(data),
              metadataText: canonicalJson(metadata),
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
    const digest = preparedDigest({ ...e, dataText: canonicalJson(e.data), metadataText: canonicalJson(e.metadata) });
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
