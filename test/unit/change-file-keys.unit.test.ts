/**
 * A change file's repeated keys, found by the compact key set (src/config/keyset.ts) and confirmed
 * by reading the file again, against the obvious path: a Map of every key to its first line.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { loadPlan } from '../../src/config/plan.js';
import { InvalidInputError } from '../../src/errors.js';

const config = parseConfig(`
targets:
  kb:
    url: env:KB_URL
    table: public.documents
    key: [id]
    columns: [title]
`);
const dir = mkdtempSync(path.join(os.tmpdir(), 'cutter-change-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The problems loadPlan reports for a change file of these lines (none: []). */
async function problemsOf(lines: string[]): Promise<string[]> {
  writeFileSync(path.join(dir, 'c.ndjson'), lines.join('\n') + '\n');
  writeFileSync(path.join(dir, 'p.yaml'), 'id: p\ntarget: kb\nreason: keys\nchangesFile: c.ndjson\n');
  try {
    await loadPlan(path.join(dir, 'p.yaml'), config, { actor: 'erin' });
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return ((err as InvalidInputError).details.issues as string[] | undefined) ?? [(err as Error).message];
  }
}

describe('change-file keys', () => {
  it('reports exactly the repeated keys, each naming the first line that used it', async () => {
    let withRepeats = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.boolean(), fc.boolean()), {
          minLength: 2,
          maxLength: 30,
        }),
        async (rows) => {
          const lines = rows.map(([k, upsert, blank]) =>
            blank ? '' : JSON.stringify(upsert ? { upsert: { id: `K${k}`, title: 't' } } : { delete: { id: `K${k}` } }),
          );
          const first = new Map<string, number>();
          const expected: string[] = [];
          lines.forEach((line, i) => {
            if (line === '' || expected.length >= 20) return;
            const change = JSON.parse(line) as { upsert?: { id: string }; delete?: { id: string } };
            const op = change.upsert ? 'upsert' : 'delete';
            const key = JSON.stringify({ id: (change.upsert ?? change.delete)!.id });
            const at = first.get(key);
            if (at === undefined) first.set(key, i + 1);
            else expected.push(`changesFile line ${i + 1}.${op}: key ${key} already changed by changesFile line ${at}`);
          });
          if (lines.every((l) => l === '')) expected.push('changesFile: no changes');
          if (expected.length > 0 && !expected[0]!.startsWith('changesFile: no')) withRepeats++;
          expect(await problemsOf(lines)).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
    expect(withRepeats).toBeGreaterThanOrEqual(15); // the generator reaches repeats: 25-35 of 60 runs seen
  });
});
