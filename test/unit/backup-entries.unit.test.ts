/**
 * A decrypted backup read back in batches (revert): bounded by entries and by row text, so a batch
 * of wide rows never becomes one JSON text longer than a JavaScript string can be; and whatever
 * the bounds, the same entries in the same order (revert records and checks row by row).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BATCH_ROW_CHARS, backupEntries, headerLine } from '../../src/adapters/backup-format.js';
import { joinedUpTo } from '../../src/adapters/postgres-table.js';
import type { BackupEntry } from '../../src/adapters/port.js';

const header = headerLine({ cutId: 'c', planHash: 'h', target: 't', table: 'public.d', key: ['id'] }).trimEnd();

async function read(lines: string[], size: number, maxChars: number) {
  async function* source() {
    yield* lines;
  }
  const batches: BackupEntry[][] = [];
  for await (const b of backupEntries(source(), size, undefined, maxChars)) batches.push(b);
  return batches;
}

const entryLines = fc.array(
  fc
    .record({ id: fc.nat(), width: fc.nat({ max: 400 }), absent: fc.boolean() })
    .map(({ id, width, absent }) =>
      absent ? `{"id": ${id}}\tnull` : `{"id": ${id}}\t{"id": ${id}, "body": "${'x'.repeat(width)}"}`,
    ),
  { maxLength: 60 },
);

describe('backupEntries', () => {
  it('splits by entries and by row text, and yields every entry once in order', async () => {
    let splitByChars = 0;
    await fc.assert(
      fc.asyncProperty(
        entryLines,
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 2_000 }),
        async (lines, size, maxChars) => {
          const whole = (await read([header, ...lines], 1_000_000, Number.MAX_SAFE_INTEGER)).flat();
          const batches = await read([header, ...lines], size, maxChars);
          expect(batches.flat()).toEqual(whole);
          expect(whole).toHaveLength(lines.length);
          for (const b of batches) {
            expect(b.length).toBeGreaterThan(0);
            expect(b.length).toBeLessThanOrEqual(size);
            // Under the bound before its last entry: a batch closes as soon as it reaches it.
            const before = b.slice(0, -1).reduce((n, e) => n + e.key.length + 1 + (e.row ?? 'null').length, 0);
            expect(before).toBeLessThan(maxChars);
            if (b.length < size && b !== batches.at(-1)) splitByChars++;
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(splitByChars).toBeGreaterThan(50); // the text bound, not only the count, closed batches
  });

  it('keeps 5,000 rows of 120 kB apart: no batch holds more than its bound of row text', async () => {
    const wide = `{"id": 1, "body": "${'x'.repeat(120_000)}"}`;
    async function* source() {
      yield header;
      for (let i = 0; i < 5_000; i++) yield `{"id": ${i}}\t${wide}`;
    }
    let rows = 0;
    let largest = 0;
    for await (const b of backupEntries(source())) {
      rows += b.length;
      largest = Math.max(
        largest,
        b.reduce((n, e) => n + (e.row?.length ?? 0), 0),
      );
    }
    expect(rows).toBe(5_000);
    expect(largest).toBeLessThanOrEqual(BATCH_ROW_CHARS + wide.length);
    expect(BATCH_ROW_CHARS).toBeLessThan(2 ** 28);
  });
});

describe("joinedUpTo (the backup sink's writes)", () => {
  it('joins adjacent parts while within the bound, loses and reorders nothing', () => {
    let joined = 0;
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 40 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 100 }),
        (parts, max) => {
          const out = [...joinedUpTo(parts, max)];
          expect(out.join('')).toBe(parts.join(''));
          // Each write is within the bound unless it is one part longer than it.
          for (const w of out) if (w.length > max) expect(parts).toContain(w);
          // Greedy: no two adjacent writes would have fitted in one.
          for (let i = 1; i < out.length; i++) expect(out[i - 1]!.length + out[i]!.length).toBeGreaterThan(max);
          if (out.length < parts.filter((p) => p.length > 0).length) joined++;
        },
      ),
      { numRuns: 500 },
    );
    expect(joined).toBeGreaterThan(100);
  });

  it('makes one write of a batch of ordinary groups', () => {
    const groups = Array.from({ length: 50 }, (_, i) => `{"id": ${i}}\t{"id": ${i}, "title": "t"}\n`.repeat(100));
    expect([...joinedUpTo(groups, 16 * 1024 * 1024)]).toEqual([groups.join('')]);
  });
});
