/**
 * The backup's slices of a batch (images.ts `backupSlicer`): every change of every batch in
 * exactly one slice, in order; slices start on a 100-row group; the first is one group, later ones
 * as many groups as the character budget holds at the widest rows of the last slice read.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backupSlicer, type BackupSlice } from '../../src/adapters/images.js';

async function sliceAll(counts: number[], widths: number[], budget: number): Promise<BackupSlice[][]> {
  const slicer = backupSlicer(budget);
  async function* batches() {
    for (const [i, count] of counts.entries()) yield { json: `batch-${i}`, count };
  }
  const out: BackupSlice[][] = counts.map(() => []);
  let n = 0;
  for await (const s of slicer.slices(batches())) {
    out[Number(s.json.slice(6))]!.push(s);
    // As the backup does: the slice read, its width known.
    slicer.seen(s.count, s.count * widths[n++ % widths.length]!);
  }
  return out;
}

describe('backupSlicer', () => {
  it('covers each batch exactly once, in order, in whole groups sized by the budget', async () => {
    let sliced = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1_000, max: 20_000_000 }),
        async (counts, widths, budget) => {
          const out = await sliceAll(counts, widths, budget);
          for (const [i, slices] of out.entries()) {
            let next = 1;
            for (const s of slices) {
              expect(s.from).toBe(next);
              expect((s.from - 1) % 100).toBe(0);
              expect(s.to).toBeGreaterThanOrEqual(s.from);
              expect(s.count).toBe(s.to - s.from + 1);
              expect(s.json).toBe(`batch-${i}`);
              next = s.to + 1;
            }
            expect(next).toBe(counts[i]! + 1);
            if (slices.length > 1) sliced++;
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(sliced).toBeGreaterThan(100);
  });

  it('reads a batch of ordinary rows in one slice after the first, and wide rows 100–200 at a time', async () => {
    const [narrow] = await sliceAll([5_000, 5_000], [300], 16 * 1024 * 1024);
    expect(narrow!.map((s) => s.count)).toEqual([100, 4_900]);
    const wide = await sliceAll([5_000], [123_000], 16 * 1024 * 1024);
    expect(wide[0]!.slice(0, 3).map((s) => s.count)).toEqual([100, 100, 100]);
    expect(Math.max(...wide[0]!.map((s) => s.count))).toBe(100);
    const mid = await sliceAll([5_000], [40_000], 16 * 1024 * 1024);
    expect(mid[0]!.slice(1, 3).map((s) => s.count)).toEqual([400, 400]);
  });
});
