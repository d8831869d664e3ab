/**
 * Wide rows (a table of documents whose cut changes only a small column): the backup reads a batch
 * in slices sized from the rows it has seen, and revert reads the backup in batches bounded by row
 * text, so neither holds a batch of wide rows as one string (5,000 rows of 120 kB could not be
 * backed up at all: "Invalid string length"). The bytes do not depend on the slicing: the backup's
 * lines and pre-image hash are checked here against ones computed independently, row by row, and
 * the revert restores the table exactly. (Rows of 20 kB in one batch of 1,200: slices of 100, 200,
 * 400 and 500; the full-size run is `npm run large-cut -- --rows 10000 --wide-kb 120`.)
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { backupEntries } from '../../src/adapters/backup-format.js';
import { executorFor } from '../../src/adapters/index.js';
import { inlineChanges } from '../../src/config/changes.js';
import { lines } from '../../src/store/blobs.js';
import { sql } from '../../src/store/connection.js';
import { seededTarget, type SeededTarget } from '../support/target.js';

const ROWS = 1_200;
let target: SeededTarget;
afterEach(async () => target?.db.drop());

describe('a cut over wide rows', () => {
  it('backs up in slices, byte for byte as row by row, and reverts exactly', async () => {
    target = await seededTarget(0, undefined, {
      setup: [
        sql`CREATE TABLE public.pages (id text PRIMARY KEY, title text NOT NULL, status text NOT NULL DEFAULT 'draft',
          html text NOT NULL DEFAULT '')`,
        // 20 kB of md5 text per row (what TOAST stores compressed crosses the wire whole), a few absent keys.
        sql`INSERT INTO public.pages (id, title, html)
          SELECT 'P-' || lpad(g::text, 5, '0'), 'title ' || g, repeat(md5(g::text), 625)
          FROM generate_series(1, ${ROWS}) g WHERE g % 97 <> 0`,
      ],
      spec: {
        name: 'pages',
        table: 'public.pages',
        key: ['id'],
        columns: ['title'],
        lifecycle: { column: 'status', value: 'live' },
      },
    });
    const before = await target.snapshot();
    const changes = Array.from({ length: ROWS }, (_, i) => ({
      upsert: { id: `P-${String(i + 1).padStart(5, '0')}`, title: `new title ${i + 1}` },
    }));
    const live = executorFor('live', target.spec, inlineChanges(changes, ROWS));
    await live.prepare();
    const ctx = (runId: string) => ({ cutId: 'wide', runId, planHash: 'h'.repeat(64) });
    let plaintext = '';
    const slices: number[] = [];
    const backup = await live.backup(ctx('r1'), {
      sink: async (t) => void (plaintext += t),
      onRows: (n) => void slices.push(n),
    });
    expect(slices).toEqual([100, 200, 400, 500]); // read in slices, not as one batch of 1,200
    expect(slices.reduce((a, b) => a + b, 0)).toBe(ROWS);

    // The same lines and pre-image hash, computed row by row in plan order.
    const rows = await target.query`
      SELECT k.id, jsonb_build_object('id', k.id)::text AS key, to_jsonb(p)::text AS row, md5(p::text) AS h
      FROM (SELECT 'P-' || lpad(g::text, 5, '0') AS id FROM generate_series(1, ${ROWS}) g) k
      LEFT JOIN public.pages p ON p.id = k.id ORDER BY k.id`;
    const entryLines = plaintext.split('\n').slice(1, -1);
    expect(entryLines).toHaveLength(ROWS);
    for (const [i, r] of rows.entries()) expect(entryLines[i]).toBe(`${r.key}\t${r.row ?? 'null'}`);
    const pre = createHash('sha256');
    for (const r of rows) pre.update(`${r.h ?? '-'}\n`);
    expect(backup.preImageHash).toBe(pre.digest('hex'));
    expect(backup.rowCount).toBe(ROWS - Math.floor(ROWS / 97));

    const legA = await live.writeLegA(ctx('r1'), { preImageHash: backup.preImageHash });
    expect(legA).toMatchObject({ inserted: Math.floor(ROWS / 97), updated: ROWS - Math.floor(ROWS / 97) });
    expect(await live.verify(ctx('r1'))).toMatchObject({ ok: true });
    // Revert from the plaintext, its entries in batches bounded by row text (8 Mi characters).
    const reverted = await live.revert(
      ctx('r2'),
      { entries: () => backupEntries(lines([plaintext])), preImageHash: backup.preImageHash },
      { force: false },
    );
    expect(reverted.restoredHash).toBe(backup.preImageHash);
    expect(await target.snapshot()).toEqual(before);
    await live.close();
  });
});
