/**
 * Store blobs against real PostgreSQL (src/store/blobs.ts): a blob of several 1 MiB chunks read
 * back one chunk per query gives exactly the bytes written and exactly what one whole-blob SQL
 * read gives (the slow, obvious path); a chunk removed or altered by the owner is refused.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_BYTES, lines, putBlob, readBlob } from '../../src/store/blobs.js';
import { connect, sql, type ConnectionPool } from '../../src/store/connection.js';
import { openStore, type EventStore } from '../../src/store/index.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let store: EventStore;
let owner: ConnectionPool;

beforeAll(async () => {
  db = await freshDatabase('cutter_blobs');
  store = await openStore(db.url);
  owner = connect(db.url, { poolSize: 1 });
});

afterAll(async () => {
  await owner?.dispose();
  await store?.close();
  await db?.drop();
});

async function* parts(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function readAll(blobId: string): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const part of readBlob(store.db, blobId)) out.push(part);
  return Buffer.concat(out);
}

/** As the owner, past the immutability triggers. */
async function tamper(query: ReturnType<typeof sql>): Promise<void> {
  await owner.tx(async (tx) => {
    await tx.query(sql`SET LOCAL session_replication_role = replica`);
    await tx.query(query);
  });
}

describe('blobs', () => {
  it('a blob of several chunks reads back byte for byte, as one whole-blob SQL read gives it', async () => {
    const data = randomBytes(Math.floor(3.5 * CHUNK_BYTES));
    const info = await store.db.tx((tx) => putBlob(tx, 'b-many', parts(data, 300_000)));
    expect(info.chunks).toBe(4);
    expect(info.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    const read = await readAll('b-many');
    expect(read.equals(data)).toBe(true);
    const [whole] = await store.db.query(
      sql`SELECT string_agg(data, ''::bytea ORDER BY seq) AS data FROM cutter.blob_chunks WHERE blob_id = 'b-many'`,
    );
    expect(read.equals(whole!.data as Buffer)).toBe(true);
  });

  it('lines across chunk boundaries: the same lines as splitting the whole text', async () => {
    const text = Array.from({ length: 40_000 }, (_, i) => `{"upsert":{"id":"R-${i}","title":"t ✓ ${i}"}}`).join('\n');
    await store.db.tx((tx) => putBlob(tx, 'b-lines', parts(Buffer.from(text), 65_536)));
    const got: string[] = [];
    for await (const line of lines(readBlob(store.db, 'b-lines'))) got.push(line);
    expect(got).toEqual(text.split('\n'));
  });

  it('a chunk removed by the owner is refused, naming it', async () => {
    await store.db.tx((tx) => putBlob(tx, 'b-gap', parts(randomBytes(3 * CHUNK_BYTES), CHUNK_BYTES)));
    await tamper(sql`DELETE FROM cutter.blob_chunks WHERE blob_id = 'b-gap' AND seq = 1`);
    await expect(readAll('b-gap')).rejects.toThrow('blob b-gap: chunk 1 is missing');
  });

  it('a chunk altered by the owner is refused at the end (the header hash)', async () => {
    await store.db.tx((tx) => putBlob(tx, 'b-edit', parts(randomBytes(2 * CHUNK_BYTES), CHUNK_BYTES)));
    await tamper(sql`UPDATE cutter.blob_chunks SET data = set_byte(data, 7, get_byte(data, 7) # 1)
      WHERE blob_id = 'b-edit' AND seq = 1`);
    await expect(readAll('b-edit')).rejects.toThrow(/blob b-edit: content hashes to/);
  });
});
