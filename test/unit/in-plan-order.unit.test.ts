/**
 * `inPlanOrder` (the read-only phases' batches shared out over connections) against the obvious
 * path, each batch worked and used in turn: the same uses in the same order and the same error,
 * whatever the connections' timing; never two statements at once on one connection, and nothing
 * still in flight when it settles.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inPlanOrder } from '../../src/adapters/snapshot-readers.js';
import type { Queryable } from '../../src/store/connection.js';

interface Case {
  batches: number;
  conns: number;
  /** Event-loop turns each work and use waits (cycled), so results come back out of order. */
  delays: number[];
  fail: { at: 'source' | 'work' | 'use'; batch: number } | null;
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** The obvious path: read a batch, work it, use it, then the next. */
function inTurn(c: Case): { used: number[]; error?: string } {
  const used: number[] = [];
  for (let b = 0; b < c.batches; b++) {
    if (c.fail?.batch === b && c.fail.at === 'source') return { used, error: `source ${b}` };
    if (c.fail?.batch === b && c.fail.at === 'work') return { used, error: `work ${b}` };
    used.push(b);
    if (c.fail?.batch === b && c.fail.at === 'use') return { used, error: `use ${b}` };
  }
  return { used };
}

async function shared(c: Case) {
  const conns = Array.from({ length: c.conns }, (_, i) => ({ name: i }) as unknown as Queryable);
  const busy = new Map<Queryable, number>();
  let inFlight = 0;
  let step = 0;
  const delay = () => c.delays[step++ % c.delays.length]!;
  async function* source() {
    for (let b = 0; b < c.batches; b++) {
      await turns(delay());
      if (c.fail?.batch === b && c.fail.at === 'source') throw new Error(`source ${b}`);
      yield b;
    }
  }
  const used: number[] = [];
  let error: string | undefined;
  try {
    await inPlanOrder(
      source(),
      conns,
      async (q, b) => {
        expect(busy.get(q) ?? 0).toBe(0);
        busy.set(q, 1);
        inFlight++;
        try {
          await turns(delay());
          if (c.fail?.batch === b && c.fail.at === 'work') throw new Error(`work ${b}`);
          return b * 10;
        } finally {
          busy.set(q, 0);
          inFlight--;
        }
      },
      async (r, b) => {
        expect(r).toBe(b * 10);
        used.push(b);
        await turns(delay());
        if (c.fail?.batch === b && c.fail.at === 'use') throw new Error(`use ${b}`);
      },
    );
  } catch (err) {
    error = (err as Error).message;
  }
  return { used, error, inFlight };
}

const cases = fc.record({
  batches: fc.integer({ min: 0, max: 12 }),
  conns: fc.integer({ min: 1, max: 3 }),
  delays: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 9 }),
  fail: fc.option(
    fc.record({ at: fc.constantFrom('source' as const, 'work' as const, 'use' as const), batch: fc.nat(12) }),
  ),
});

describe('inPlanOrder', () => {
  it('uses every batch in order and fails with the same error as working and using each in turn', async () => {
    const seen = { source: 0, work: 0, use: 0, overlapped: 0 };
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const got = await shared(c);
        expect(got.inFlight).toBe(0);
        const want = inTurn(c);
        expect({ used: got.used, error: got.error }).toEqual({ used: want.used, error: want.error });
        if (want.error) seen[c.fail!.at]++;
        if (c.conns > 1 && c.batches > c.conns) seen.overlapped++;
      }),
      { numRuns: 400, seed: 20261201 },
    );
    // The generator reaches each failure taking effect, and batches sharing connections.
    expect(Math.min(seen.source, seen.work, seen.use)).toBeGreaterThan(30);
    expect(seen.overlapped).toBeGreaterThan(100);
  });
});
