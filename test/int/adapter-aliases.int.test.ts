/**
 * Target columns named like the adapter SQL's own aliases. The row SQL names the target table, the
 * batch's rows and its CTEs with short aliases and takes whole-row references (`md5(row::text)`
 * fingerprints, `to_jsonb(row)` backup images); in PostgreSQL an unqualified name is a column
 * before it is a table alias, so a target whose columns carry those names must still be backed up,
 * written, verified, enacted, simulated and reverted exactly as any other.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Change } from '../../events/plan.js';
import { backupEntries } from '../../src/adapters/backup-format.js';
import { executorFor } from '../../src/adapters/index.js';
import { inlineChanges } from '../../src/config/changes.js';
import { InvalidInputError } from '../../src/errors.js';
import { connect, sql } from '../../src/store/connection.js';
import { lines } from '../../src/store/blobs.js';
import { seededTarget, type SeededTarget } from '../support/target.js';

/**
 * Every alias, CTE name and internal column name the adapter SQL uses (src/adapters/*.ts, before
 * they were quoted `$` names), plus the names of its result columns.
 */
const ALIASES = [
  ...['t', 'c', 'e', 'x', 'j', 'pre', 'd', 'k', 'h', 'a', 'ord', 'up', 'w', 'u', 'g', 's', 'r', 'b', 'kv', 'agg'],
  ...['found', 'cols', 'ins', 'n', 'col', 'part', 'present', 'lines', 'value', 'ordinality', 'key', 'kind'],
  ...['planned', 'current', 'columns', 'eu', 'au', 'ed', 'ad', 'missing', 'differs', 'same', 'absent'],
  ...['mismatched', 'ok', 'id', 'i'],
];
/** Column types other than text, so the row images hold more than strings. */
const TYPES: Record<string, string> = {
  ord: 'integer',
  e: 'integer',
  x: 'jsonb',
  j: 'boolean',
  h: 'numeric',
  g: 'integer',
};

interface Layout {
  name: string;
  table: string;
  key: string[];
  columns: string[];
  lifecycle: string;
  /** The table's columns (default: every alias). */
  names?: string[];
}

/** Two layouts of the same columns: `c`/`ord` as key and `t` content, and `t` as key with `c`/`ord` content. */
const LAYOUTS: Layout[] = [
  {
    name: 'key (c, ord)',
    table: 'public.aliased',
    key: ['c', 'ord'],
    columns: ['t', 'e', 'x', 'j', 'pre', 'h', 'a', 'up', 's', 'r', 'value', 'g'],
    lifecycle: 'd',
  },
  {
    name: 'key (t)',
    table: 'public.t',
    key: ['t'],
    columns: ['c', 'ord', 'e', 'x', 'j', 'k', 'h', 'w', 'kv', 'key', 'agg'],
    lifecycle: 'u',
  },
  {
    // The common case: one column named like the table's alias among plain ones.
    name: 'only t among the aliases',
    table: 'public.docs',
    key: ['id'],
    columns: ['t', 'title'],
    lifecycle: 'status',
    names: ['id', 't', 'title', 'status', 'b', 'n', 'kind', 'lines'],
  },
];

const valueFor = (col: string, i: number): unknown => {
  switch (TYPES[col]) {
    case 'integer':
      return i * 7;
    case 'jsonb':
      return { n: i, [col]: [col, i] };
    case 'boolean':
      return i % 2 === 0;
    case 'numeric':
      return i + 0.25;
    default:
      return `${col}-${i}`;
  }
};
const keyOf = (layout: Layout, i: number) =>
  Object.fromEntries(layout.key.map((k) => [k, k === 'ord' ? i : `${k}-${i}`]));
const rowOf = (layout: Layout, i: number, rev = '') => ({
  ...keyOf(layout, i),
  ...Object.fromEntries(
    layout.columns.map((col) => {
      const v = valueFor(col, i);
      return [col, typeof v === 'string' ? `${v}${rev}` : v];
    }),
  ),
});

/** The table (every alias a column; the ones the layout does not manage have defaults), seeded with rows 1..8. */
function customTable(layout: Layout) {
  const ident = sql.ident(...(layout.table.split('.') as [string, string]));
  const names = layout.names ?? ALIASES;
  const defs = names.map((col) => {
    const type = TYPES[col] ?? 'text';
    const dflt =
      layout.key.includes(col) || type !== 'text'
        ? sql``
        : sql` NOT NULL DEFAULT ${sql.__dangerous__rawValue(`'dflt-${col}'`)}`;
    return sql`${sql.ident(col)} ${sql.__dangerous__rawValue(type)}${dflt}`;
  });
  const seed = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => {
    const row: Record<string, unknown> = { ...rowOf(layout, i), [layout.lifecycle]: i % 2 ? 'draft' : 'published' };
    // Unmanaged columns with values of their own, so a backup holding only one column is told apart.
    for (const col of names) if (!(col in row) && !TYPES[col]) row[col] = `own ${col} ${i}`;
    return sql`INSERT INTO ${ident} SELECT * FROM jsonb_populate_record(NULL::${ident}, ${JSON.stringify(row)}::jsonb)`;
  });
  return {
    setup: [
      sql`CREATE TABLE ${ident} (${sql.join(defs, sql`, `)}, UNIQUE (${sql.join(
        layout.key.map((k) => sql.ident(k)),
        sql`, `,
      )}))`,
      ...seed,
    ],
    spec: {
      name: 'aliased',
      table: layout.table,
      key: layout.key,
      columns: layout.columns,
      lifecycle: { column: layout.lifecycle, value: 'published' },
    },
  };
}

/** Inserts row 101..250 (more than one group of the backup's lines), updates 2, keeps 3, deletes 4 and an absent key. */
function changesFor(layout: Layout): Change[] {
  return [
    { upsert: rowOf(layout, 2, ' revised') },
    { upsert: rowOf(layout, 3) },
    { delete: keyOf(layout, 4) },
    { delete: keyOf(layout, 99) },
    ...Array.from({ length: 150 }, (_, n) => ({ upsert: rowOf(layout, 101 + n) })),
  ] as Change[];
}

/** Independently read: each planned key's `md5(row::text)` and `to_jsonb(row)` text, or null when absent. */
async function imagesOf(target: SeededTarget, layout: Layout, changes: Change[]) {
  const ident = sql.ident(...(layout.table.split('.') as [string, string]));
  const db = connect(target.spec.url, { poolSize: 1 });
  try {
    const out: { key: Record<string, unknown>; md5: string | null; row: string | null }[] = [];
    for (const ch of changes) {
      const key = ('upsert' in ch ? pick(ch.upsert, layout.key) : ch.delete) as Record<string, unknown>;
      const where = sql.join(
        layout.key.map((k) => sql`to_jsonb("$row".${sql.ident(k)}) = ${JSON.stringify(key)}::jsonb -> ${k}::text`),
        sql` AND `,
      );
      const [r] = await db.query(
        sql`SELECT md5("$row"::text) AS h, to_jsonb("$row")::text AS j FROM ${ident} "$row" WHERE ${where}`,
      );
      out.push({ key, md5: (r?.h as string) ?? null, row: (r?.j as string) ?? null });
    }
    return out;
  } finally {
    await db.dispose();
  }
}
const pick = (row: Record<string, unknown>, cols: string[]) => Object.fromEntries(cols.map((c) => [c, row[c]]));
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let target: SeededTarget;
afterEach(async () => target?.db.drop());

describe.each(LAYOUTS)('a target whose columns are named like the adapter SQL aliases, $name', (layout) => {
  const changes = changesFor(layout);
  const ctx = (runId: string) => ({ cutId: 'cut-aliases', runId, planHash: 'a'.repeat(64) });

  it('runs all five phases and reverts byte for byte, backing up the real row images; simulates the same', async () => {
    target = await seededTarget(0, undefined, customTable(layout));
    const before = await target.snapshot();
    const images = await imagesOf(target, layout, changes);
    expect(images.filter((i) => i.row !== null)).toHaveLength(3);
    const preImageHash = sha256(images.map((i) => `${i.md5 ?? '-'}\n`).join(''));

    const live = executorFor('live', target.spec, inlineChanges(changes));
    let legA: Awaited<ReturnType<typeof live.writeLegA>>;
    try {
      await live.prepare();
      let plaintext = '';
      const backup = await live.backup(ctx('r1'), { sink: async (t) => void (plaintext += t) });
      expect(backup).toMatchObject({ preImageHash, rowCount: 3, entries: changes.length });
      const entries = [];
      for await (const batch of backupEntries(lines([plaintext]))) entries.push(...batch);
      expect(entries.map((e) => ({ key: JSON.parse(e.key), row: e.row }))).toEqual(
        images.map((i) => ({ key: i.key, row: i.row })),
      );

      legA = await live.writeLegA(ctx('r1'), { preImageHash: backup.preImageHash });
      expect(legA).toMatchObject({ inserted: 150, updated: 2, deleted: 1, reconciled: false });
      await live.recordLegB(ctx('r1'), { approvals: ['alice', 'bob'] });
      const verify = await live.verify(ctx('r1'));
      expect(verify).toMatchObject({ ok: true, mismatchCount: 0, mismatches: [] });
      expect(verify.expectedHash).toBe(legA.digest);
      expect(await live.enactLifecycle(ctx('r1'))).toMatchObject({ skipped: false, rows: 152 });

      // The rows as planned, the columns the plan does not manage untouched.
      const after = (await imagesOf(target, layout, changes)).map((i) => (i.row ? JSON.parse(i.row) : null));
      expect(after[0]).toMatchObject({ ...rowOf(layout, 2, ' revised'), [layout.lifecycle]: 'published' });
      expect(after[0]).toMatchObject(pick(JSON.parse(images[0]!.row!), ['b', 'n', 'kind', 'lines']));
      expect(after[2]).toBeNull();
      expect(after[4]).toMatchObject({ ...rowOf(layout, 101), [layout.lifecycle]: 'published', b: 'dflt-b' });

      // As the cut left it, revert restores every row exactly (every column, the unmanaged ones too).
      const reverted = await live.revert(
        ctx('r2'),
        { entries: () => backupEntries(lines([plaintext])), preImageHash: backup.preImageHash },
        { force: false },
      );
      expect(reverted).toMatchObject({ rows: changes.length, restoredHash: backup.preImageHash });
      expect(await target.snapshot()).toEqual(before);
    } finally {
      await live.close();
    }

    // The dry run on the table as it was: the real rows' fingerprints, the diff with the table's own
    // values, and the post-image the live run wrote.
    const sim = executorFor('dry-run', target.spec, inlineChanges(changes));
    const simulated = await sim.simulate(ctx('d1'));
    await sim.close();
    expect(simulated.nonMutation).toEqual({ preImageHashBefore: preImageHash, preImageHashAfter: preImageHash });
    expect(simulated.diff.counts).toEqual({ inserts: 150, updates: 1, deletes: 1, unchanged: 2 });
    expect(simulated.diff.inserts[0]).toEqual(rowOf(layout, 101));
    expect(simulated.diff.deletes).toEqual([keyOf(layout, 4)]);
    const textColumns = layout.columns.filter((col) => !TYPES[col] && !layout.key.includes(col));
    expect(simulated.diff.updates).toEqual([
      {
        key: keyOf(layout, 2),
        changes: textColumns.map((col) => ({ column: col, from: `${col}-2`, to: `${col}-2 revised` })),
      },
    ]);
    expect(simulated.expectedPostImageHash).toBe(legA.digest);
    expect(await target.snapshot()).toEqual(before);
  });
});

describe('a target with a column whose name starts with $', () => {
  it('is refused at prepare and by the simulator, naming the column (it could be one of the SQL aliases)', async () => {
    const layout = LAYOUTS[0]!;
    const custom = customTable(layout);
    custom.setup.push(sql`ALTER TABLE public.aliased ADD COLUMN "$t" text`);
    target = await seededTarget(0, undefined, custom);
    const refusal = /^targets\.aliased: public\.aliased has a column named "\$t"; .*rename the column$/;
    const live = executorFor('live', target.spec, inlineChanges(changesFor(layout)));
    try {
      const refused = live.prepare();
      await expect(refused).rejects.toBeInstanceOf(InvalidInputError);
      await expect(refused).rejects.toThrow(refusal);
    } finally {
      await live.close();
    }
    const sim = executorFor('dry-run', target.spec, inlineChanges(changesFor(layout)));
    try {
      for (const run of [
        () => sim.precheck(),
        () => sim.simulate({ cutId: 'c', runId: 'd', planHash: 'a'.repeat(64) }),
      ]) {
        const refused = run();
        await expect(refused).rejects.toBeInstanceOf(InvalidInputError);
        await expect(refused).rejects.toThrow(refusal);
      }
    } finally {
      await sim.close();
    }
  });
});
