/**
 * Append-only blobs in the store: written as 1 MiB chunks with the header last, in the caller's
 * transaction, and read back as a stream whose SHA-256 is checked at the end. Nothing is ever held
 * whole in memory, so a backup or a change file can be as large as the data it covers.
 */
import { createHash } from 'node:crypto';
import { VerificationFailedError } from '../errors.js';
import { sql, type Queryable } from './connection.js';

export const CHUNK_BYTES = 1 << 20;

export interface BlobInfo {
  blobId: string;
  sha256: string;
  bytes: number;
  chunks: number;
}

/** Writes `source` as blob `blobId` (inside `q`'s transaction: chunks, then the header). */
export async function putBlob(
  q: Queryable,
  blobId: string,
  source: AsyncIterable<Uint8Array | string>,
): Promise<BlobInfo> {
  const hash = createHash('sha256');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let bytes = 0;
  let seq = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const data = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await q.query(sql`INSERT INTO cutter.blob_chunks (blob_id, seq, data) VALUES (${blobId}, ${seq++}, ${data})`);
  };
  for await (const part of source) {
    const buf =
      typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.from(part.buffer, part.byteOffset, part.byteLength);
    if (buf.length === 0) continue;
    hash.update(buf);
    bytes += buf.length;
    pending.push(buf);
    pendingBytes += buf.length;
    if (pendingBytes >= CHUNK_BYTES) await flush();
  }
  await flush();
  const sha256 = hash.digest('hex');
  await q.query(
    sql`INSERT INTO cutter.blobs (blob_id, sha256, bytes, chunks) VALUES (${blobId}, ${sha256}, ${bytes}, ${seq})`,
  );
  return { blobId, sha256, bytes, chunks: seq };
}

/** A stored blob's size, hash and chunk count, or undefined. Reads only. */
export async function blobInfo(q: Queryable, blobId: string): Promise<BlobInfo | undefined> {
  const [r] = await q.query(sql`SELECT blob_id, sha256, bytes, chunks FROM cutter.blobs WHERE blob_id = ${blobId}`);
  return r ? { blobId: r.blob_id, sha256: r.sha256, bytes: Number(r.bytes), chunks: r.chunks } : undefined;
}

/**
 * Streams blob `blobId` one chunk per query. Throws VerificationFailedError at the end when the
 * bytes do not hash to the header's SHA-256 (or `expectSha256`), so a consumer inside a
 * transaction rolls back instead of committing what a damaged blob said.
 */
export async function* readBlob(
  q: Queryable,
  blobId: string,
  opts: { expectSha256?: string } = {},
): AsyncGenerator<Buffer> {
  const info = await blobInfo(q, blobId);
  if (!info) throw new VerificationFailedError(`blob ${blobId} is not in the store`);
  if (opts.expectSha256 && opts.expectSha256 !== info.sha256)
    throw new VerificationFailedError(
      `blob ${blobId}: recorded SHA-256 ${info.sha256} differs from the expected ${opts.expectSha256}`,
    );
  const hash = createHash('sha256');
  let bytes = 0;
  // One chunk per query, for peak RSS: the driver assembles a reply in a buffer that doubles as it
  // fills, so 8 chunks per reply meant a 16 MB message in a 32 MB buffer, a 16 MB string and 8 MB
  // of chunks at once, in every phase that reads the change set. A round trip per MiB costs nothing
  // next to the rows it carries. As base64, not bytea's hex text: a third less to encode, send and
  // parse (a large change set is read once per phase); the bytes are the same, and their SHA-256 is
  // checked below.
  for (let seq = 0; seq < info.chunks; seq++) {
    const [r] = await q.query(
      sql`SELECT encode(data, 'base64') AS data FROM cutter.blob_chunks WHERE blob_id = ${blobId} AND seq = ${seq}`,
    );
    if (!r) throw new VerificationFailedError(`blob ${blobId}: chunk ${seq} is missing`);
    const data = Buffer.from(r.data as string, 'base64');
    hash.update(data);
    bytes += data.length;
    yield data;
  }
  const actual = hash.digest('hex');
  if (actual !== info.sha256 || bytes !== info.bytes)
    throw new VerificationFailedError(`blob ${blobId}: content hashes to ${actual}, the header records ${info.sha256}`);
}

/** Splits a byte stream into UTF-8 lines (without the newline); `\r\n` is accepted. */
export async function* lines(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let rest = '';
  for await (const part of source) {
    rest += typeof part === 'string' ? part : decoder.decode(part, { stream: true });
    let nl = rest.indexOf('\n');
    let start = 0;
    while (nl !== -1) {
      const line = rest.slice(start, nl);
      yield line.endsWith('\r') ? line.slice(0, -1) : line;
      start = nl + 1;
      nl = rest.indexOf('\n', start);
    }
    rest = rest.slice(start);
  }
  rest += decoder.decode();
  if (rest.length > 0) yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
}
