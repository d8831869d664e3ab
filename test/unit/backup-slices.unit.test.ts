/**
 * The backup's slices of a batch (images.ts `backupSlicer`): every change of every batch in exactly
 * one slice, in order, each slice whole groups of 100 from the batch's start; sized by the widest
 * rows seen so far, growing at most twofold from one group, and never so many per batch that the
 * batch's change text is parsed more than 8 budgets' worth again.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backupSlicer, type BackupSlice } from '../../src/adapters/images.js';

const MiB16 = 16 * 1024 * 1024;

/**
 * Slices `batches` (counts, each with the length of its change text) as the backup does with two
 * connections: a slice's width is seen only after the next slice was taken. `width(row)` gives the
 * characters of each row's backup line (by its number across the whole plan).
 */
async function sliceAll(
  batches: { count: number; json?: number }[],
  width: (row: number) => number,
  budget = MiB16,
): Promise<BackupSlice[][]> {
  const slicer = backupSlicer(budget);
  async function* source() {
    for (const [i, b] of batches.entries())
      yield { json: `${i}:`.padEnd(b.json ?? 2 + b.count * 40, ' '), count: b.count };
  }
  const out: BackupSlice[][] = batches.map(() => []);
  const starts = batches.map((_, i) => batches.slice(0, i).reduce((n, b) => n + b.count, 0));
  const pending: { s: BackupSlice; batch: number }[] = [];
  const see = () => {
    const { s, batch } = pending.shift()!;
    let widest = 0;
    for (let g = s.from; g <= s.to; g += 100) {
      const rows = Array.from({ length: Math.min(100, s.to - g + 1) }, (_, k) => width(starts[batch]! + g + k));
      widest = Math.max(widest, rows.reduce((a, b) => a + b, 0) / rows.length);
    }
    slicer.seen(widest);
  };
  for await (const s of slicer.slices(source())) {
    const batch = Number(s.json.slice(0, s.json.indexOf(':')));
    out[batch]!.push(s);
    pending.push({ s, batch });
    if (pending.length > 1) see(); // the slice before this one is read while this one is taken
  }
  while (pending.length) see();
  return out;
}

describe('backupSlicer', () => {
  it('covers each batch exactly once, in order, in whole groups', async () => {
    let sliced = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1_000, max: 20_000_000 }),
        async (counts, widths, budget) => {
          const out = await sliceAll(
            counts.map((count) => ({ count })),
            (row) => widths[Math.floor(row / 700) % widths.length]!,
            budget,
          );
          for (const [i, slices] of out.entries()) {
            let next = 1;
            for (const s of slices) {
              expect(s.from).toBe(next);
              expect((s.from - 1) % 100).toBe(0);
              expect(s.to).toBeGreaterThanOrEqual(s.from);
              expect(s.count).toBe(s.to - s.from + 1);
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

  it('reads ordinary rows in whole batches after a slow start', async () => {
    const out = await sliceAll([{ count: 5_000 }, { count: 5_000 }, { count: 5_000 }], () => 300);
    expect(out.map((b) => b.map((s) => s.count))).toEqual([
      [100, 200, 400, 800, 1_600, 1_900],
      [3_800, 1_200],
      [5_000],
    ]);
  });

  it('keeps slices of wide rows within the budget, also when the first rows are narrow', async () => {
    const [wide] = await sliceAll([{ count: 5_000 }], () => 123_000);
    expect(wide!.slice(0, 3).map((s) => s.count)).toEqual([100, 200, 100]);
    expect(Math.max(...wide!.map((s) => s.count))).toBe(200);
    // 200 new keys (`null` lines), then 120 kB rows: the slices grow from one group, so the first
    // wide slice holds at most 400 rows, and every later one fits the budget.
    const [mixed] = await sliceAll([{ count: 5_000 }], (row) => (row <= 200 ? 25 : 123_000));
    expect(mixed!.slice(0, 4).map((s) => s.count)).toEqual([100, 200, 400, 100]);
    for (const s of mixed!.slice(3)) expect(s.count * 123_000).toBeLessThanOrEqual(MiB16);
  });

  it('cuts a batch of wide changes into few slices: its text is parsed at most 8 budgets again', async () => {
    // 5,000 changes of 40 kB (200 MB of change text), rows as wide: one slice, as before slicing.
    const [wideChanges] = await sliceAll([{ count: 5_000, json: 200_000_000 }], () => 41_000);
    expect(wideChanges!.length).toBe(1);
    // 20 MB of change text: at most 6 slices (6 × 20 MB ≤ 8 × 16 MiB).
    const [some] = await sliceAll([{ count: 5_000, json: 20_000_000 }], () => 41_000);
    expect(some!.length).toBeLessThanOrEqual(6);
    expect(some!.length * 20_000_000).toBeLessThanOrEqual(8 * MiB16 + 20_000_000);
  });
});
