/**
 * The live cut's batch fast paths against the slow, obvious path on a real table: the backup's
 * entry lines joined in SQL and sunk while the next batch is read, change batches read ahead, and
 * the backup's and verify's batches shared out over two connections in one snapshot, must give the
 * same plaintext, hashes, counts, samples and rows as reading one row (or batch) at a time.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { entryLine, headerLine } from '../../src/adapters/backup-format.js';
import { ImageDigest, compareBatch, mismatchOf } from '../../src/adapters/images.js';
import { executorFor } from '../../src/adapters/index.js';
import { inlineChanges, readAhead, type ChangeBatch, type ChangeSource } from '../../src/config/changes.js';
import { IsolationLevel, connect, sql } from '../../src/store/connection.js';
import { adminUrl } from '../support/db.js';
import { seededTarget, type SeededTarget } from '../support/target.js';
import type { Change } from '../../events/plan.js';

let target: SeededTarget;
afterEach(async () => target?.db.drop());
const ctx = { cutId: 'c1', runId: 'r1', planHash: 'p'.repeat(64) };

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

/**
 * Verify the obvious way: one REPEATABLE READ transaction on one connection, batch after batch,
 * each asking only for the samples still wanted (what verify did before its batches were shared out).
 */
async function verifyBatchAfterBatch(changes: Change[], size: number) {
  const db = connect(target.spec.url, { poolSize: 1 });
  try {
    return await db.tx(
      async (tx) => {
        const expected = new ImageDigest();
        const actual = new ImageDigest();
        const mismatches: { key: string; reason: string }[] = [];
        let count = 0;
        for await (const b of inlineChanges(changes, size)()) {
          const c = await compareBatch(tx, target.spec, b.json, { samples: 100 - mismatches.length });
          expected.add(c.expected);
          actual.add(c.actual);
          count += c.missing + c.differs + c.present;
          mismatches.push(...c.samples.map(mismatchOf));
        }
        return { expectedHash: expected.digest(), actualHash: actual.digest(), mismatchCount: count, mismatches };
      },
      { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true },
    );
  } finally {
    await db.dispose();
  }
}

/** `changes` in batches of `size`; `between` runs (and is awaited) after the first batch was taken. */
function withCommitAfterFirstBatch(changes: Change[], size: number, between: () => Promise<unknown>): ChangeSource {
  return async function* () {
    let first = true;
    for await (const b of inlineChanges(changes, size)()) {
      yield b;
      if (first) await between();
      first = false;
    }
  };
}

describe('read-only phases on two connections', () => {
  it('verifies with the same hashes, count and first 100 samples as one connection batch after batch', async () => {
    target = await seededTarget(10);
    const changes = plannedChanges();
    const live = executorFor('live', target.spec, inlineChanges(changes, 20));
    await live.prepare();
    const backup = await live.backup(ctx, {});
    await live.writeLegA(ctx, { preImageHash: backup.preImageHash });
    // Mismatches of every kind in most of the 17 batches, well over 100 of them: rows changed,
    // upserted rows gone, deleted keys back.
    await target.query`UPDATE public.documents SET body = body || '!' WHERE id LIKE 'N-%' AND id NOT LIKE 'N-3%'`;
    await target.query`DELETE FROM public.documents WHERE id LIKE 'N-1_5' OR id = 'KB-0002'`;
    await target.query`INSERT INTO public.documents (id, title, body) VALUES ('N-99', 'back', 'again'), ('N-261', 'x', 'y')`;
    const slow = await verifyBatchAfterBatch(changes, 20);
    expect(slow.mismatchCount).toBeGreaterThan(150);
    expect(new Set(slow.mismatches.map((m) => m.reason.split(':')[0]))).toEqual(
      new Set(['differs', 'missing', 'unexpected']),
    );
    const fast = await live.verify(ctx, {});
    await live.close();
    expect(fast.ok).toBe(false);
    expect({
      expectedHash: fast.expectedHash,
      actualHash: fast.actualHash,
      // Not in the adapter's type, but recorded in the receipt and the ledger.
      mismatchCount: (fast as unknown as { mismatchCount: number }).mismatchCount,
      mismatches: fast.mismatches,
    }).toEqual(slow);
  });

  it("verify's second connection reads the phase's snapshot, not a row committed after it", async () => {
    target = await seededTarget(10);
    const changes = plannedChanges();
    // The second batch (ids N-21…N-40) goes to the second connection; a row of it changes after
    // the phase began (after the first batch was taken), which verify must not see.
    const source = withCommitAfterFirstBatch(
      changes,
      20,
      () => target.query`UPDATE public.documents SET title = 'later' WHERE id = 'N-25'`,
    );
    const writer = executorFor('live', target.spec, inlineChanges(changes, 20));
    await writer.prepare();
    const backup = await writer.backup(ctx, {});
    await writer.writeLegA(ctx, { preImageHash: backup.preImageHash });
    await writer.close();
    const live = executorFor('live', target.spec, source);
    const verified = await live.verify(ctx, {});
    await live.close();
    expect(verified.mismatches).toEqual([]);
    expect(verified.ok).toBe(true);
    // The change did commit: read now, the row differs.
    expect((await verifyBatchAfterBatch(changes, 20)).mismatches).toEqual([
      { key: '{"id":"N-25"}', reason: 'differs: title' },
    ]);
  });

  it("backs up the rows of the phase's snapshot on both connections, not a row committed after it", async () => {
    target = await seededTarget(10);
    const changes = plannedChanges();
    const header = { cutId: 'c1', planHash: ctx.planHash, target: 'kb', table: 'public.documents', key: ['id'] };
    const slow = await backupOneRowAtATime(changes, header);
    // KB-0002 is in the first batch of 5 (first connection), KB-0007 in the second (second connection).
    const source = withCommitAfterFirstBatch(
      changes,
      5,
      () => target.query`UPDATE public.documents SET body = 'later' WHERE id IN ('KB-0002', 'KB-0007')`,
    );
    const live = executorFor('live', target.spec, source);
    let plaintext = '';
    const backup = await live.backup(ctx, { sink: async (t) => void (plaintext += t) });
    await live.close();
    expect(plaintext).toBe(slow.plaintext);
    expect(backup.preImageHash).toBe(slow.preImageHash);
    expect((await target.query`SELECT body FROM public.documents WHERE id = 'KB-0007'`)[0].body).toBe('later');
  });
  it('backs up and verifies on one connection, the same, when the server allows the role only one', async () => {
    target = await seededTarget(10);
    const changes = plannedChanges();
    const role = `cutter_one_conn_${Math.random().toString(36).slice(2, 8)}`;
    await target.query`SELECT 1`;
    const admin = connect(target.spec.url, { poolSize: 1 });
    try {
      await admin.query(sql`CREATE ROLE ${sql.ident(role)} LOGIN PASSWORD 'pw' CONNECTION LIMIT 1`);
      await admin.query(sql`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${sql.ident(role)}`);
      await admin.query(sql`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${sql.ident(role)}`);
      // The bookkeeping tables first, as the superuser (the role may not create them).
      const owner = executorFor('live', target.spec, inlineChanges(changes, 20));
      await owner.prepare();
      await owner.close();
      await admin.query(sql`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${sql.ident(role)}`);
      await admin.query(sql`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${sql.ident(role)}`);
      const header = { cutId: 'c1', planHash: ctx.planHash, target: 'kb', table: 'public.documents', key: ['id'] };
      const slow = await backupOneRowAtATime(changes, header);
      const url = Object.assign(new URL(target.spec.url), { username: role, password: 'pw' }).toString();
      const live = executorFor('live', { ...target.spec, url }, inlineChanges(changes, 20));
      let plaintext = '';
      const backup = await live.backup(ctx, { sink: async (t) => void (plaintext += t) });
      expect(plaintext).toBe(slow.plaintext);
      expect(backup.preImageHash).toBe(slow.preImageHash);
      await live.writeLegA(ctx, { preImageHash: backup.preImageHash });
      const verified = await live.verify(ctx, {});
      await live.close();
      expect(verified).toMatchObject({ ok: true, mismatches: [] });
      expect(verified.actualHash).toBe((await verifyBatchAfterBatch(changes, 20)).actualHash);
    } finally {
      await admin.dispose();
      await target.db.drop();
      const server = connect(adminUrl(), { poolSize: 1 });
      await server.query(sql`DROP ROLE IF EXISTS ${sql.ident(role)}`);
      await server.dispose();
    }
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
