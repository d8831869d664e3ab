/**
 * The live cut's batch fast paths against the slow, obvious path on a real table: the backup's
 * entry lines joined in SQL and sunk while the next batch is read, and change batches read ahead,
 * must give the same plaintext, hashes, counts and rows as reading one row at a time.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { entryLine, headerLine } from '../../src/adapters/backup-format.js';
import { executorFor } from '../../src/adapters/index.js';
import { inlineChanges, readAhead, type ChangeBatch, type ChangeSource } from '../../src/config/changes.js';
import { seededTarget, type SeededTarget } from '../support/target.js';
import type { Change } from '../../events/plan.js';

let target: SeededTarget;
afterEach(async () => target?.db.drop());

/** 330 changes over 10 seeded rows and new ones: updates, inserts, deletes of present and absent keys, hostile text. */
function plannedChanges(): Change[] {
  const changes: Change[] = [];
  for (let i = 1; i <= 330; i++) {
    const id = i <= 10 ? `KB-${String(i).padStart(4, '0')}` : `N-${i}`;
    if (i % 9 === 0) changes.push({ delete: { id } });
    else if (i % 31 === 0) changes.push({ delete: { id: `absent-${i}` } });
    else changes.push({ upsert: { id, title: `t\t${i} "q" \\ ✓`, body: `b\n${i} — ${'é'.repeat(i % 5)}` } });
  }
  return changes;
}

/**
 * The backup plaintext and pre-image hash the obvious way: the whole table read once, then the plan
 * walked key by key in JS (the pre-image hash is one SHA-256 over every key's `md5(row::text)` or
 * `-`, a line each).
 */
async function backupOneRowAtATime(changes: Change[], header: Parameters<typeof headerLine>[0]) {
  const ids = changes.map((c) => ('upsert' in c ? c.upsert.id : c.delete.id) as string);
  const keys = new Map(
    (await target.query`SELECT k.id, jsonb_build_object('id', k.id)::text AS k FROM unnest(${ids}::text[]) k(id)`).map(
      (r) => [r.id as string, r.k as string],
    ),
  );
  const rows = new Map(
    (await target.query`SELECT id, to_jsonb(t)::text AS r, md5(t::text) AS h FROM public.documents t`).map((r) => [
      r.id as string,
      r as { r: string; h: string },
    ]),
  );
  let plaintext = headerLine(header);
  const pre = createHash('sha256');
  for (const id of ids) {
    const row = rows.get(id);
    plaintext += entryLine(keys.get(id)!, row?.r ?? null);
    pre.update(`${row?.h ?? '-'}\n`);
  }
  const rowCount = ids.filter((id) => rows.has(id)).length;
  return { plaintext, rowCount, preImageHash: pre.digest('hex') };
}

describe('live batches', () => {
  it('backs up the same plaintext, pre-image and counts as reading one row at a time, over many batches', async () => {
    target = await seededTarget(10);
    const changes = plannedChanges();
    const ctx = { cutId: 'c1', runId: 'r1', planHash: 'p'.repeat(64) };
    // Batches of 130: more than one SQL group of lines per batch, and a short last batch.
    const live = executorFor('live', target.spec, readAhead(inlineChanges(changes, 130)));
    await live.prepare();
    let plaintext = '';
    // A slow sink, so the next batch is read while the previous one is still being written.
    const sink = async (text: string) => {
      await new Promise((r) => setTimeout(r, 5));
      plaintext += text;
    };
    console.time('fast');
    const backup = await live.backup(ctx, { sink });
    console.timeEnd('fast');
    await live.close();
    const header = { cutId: 'c1', planHash: ctx.planHash, target: 'kb', table: 'public.documents', key: ['id'] };
    console.time('slow');
    const slow = await backupOneRowAtATime(changes, header);
    console.timeEnd('slow');
    expect(plaintext).toBe(slow.plaintext);
    expect(backup.plaintextHash).toBe(createHash('sha256').update(slow.plaintext).digest('hex'));
    expect(backup.rowCount).toBe(slow.rowCount);
    expect(backup.entries).toBe(changes.length);
    expect(backup.preImageHash).toBe(slow.preImageHash);
  });

  it('fails the backup with the sink error, the transaction settled, when the sink fails mid-way', async () => {
    target = await seededTarget(10);
    const live = executorFor('live', target.spec, readAhead(inlineChanges(plannedChanges(), 50)));
    await live.prepare();
    let writes = 0;
    const sink = async () => {
      if (++writes === 3) throw new Error('vault full');
    };
    await expect(live.backup({ cutId: 'c1', runId: 'r1', planHash: 'p' }, { sink })).rejects.toThrow('vault full');
    await live.close();
  });
});

describe('readAhead', () => {
  const source = (n: number, failAt?: number): ChangeSource =>
    async function* () {
      for (let i = 0; i < n; i++) {
        if (i === failAt) throw new Error(`batch ${i} unreadable`);
        yield { json: `[${i}]`, count: 1 };
      }
    };
  const all = async (s: ChangeSource) => {
    const got: ChangeBatch[] = [];
    for await (const b of s()) got.push(b);
    return got;
  };

  it('yields the same batches in the same order', async () => {
    expect(await all(readAhead(source(7)))).toEqual(await all(source(7)));
  });

  it('surfaces a read error when the consumer reaches that batch, after the batches before it', async () => {
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const b of readAhead(source(5, 3))()) got.push(b.json);
      })(),
    ).rejects.toThrow('batch 3 unreadable');
    expect(got).toEqual(['[0]', '[1]', '[2]']);
  });

  it('closes the source when the consumer stops early', async () => {
    let closed = false;
    const s: ChangeSource = async function* () {
      try {
        for (let i = 0; ; i++) yield { json: `[${i}]`, count: 1 };
      } finally {
        closed = true;
      }
    };
    for await (const b of readAhead(s)()) if (b.json === '[2]') break;
    expect(closed).toBe(true);
  });
});
