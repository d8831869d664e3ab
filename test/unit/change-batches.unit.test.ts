/**
 * Change batches split on the bytes (`byteBatches`) against the obvious path: the stream decoded to
 * a string, split into lines, blank ones skipped, joined per batch.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_BYTES, byteBatches, type ChangeBatch } from '../../src/config/changes.js';
import { InvalidInputError, VerificationFailedError } from '../../src/errors.js';

/** The obvious batches of a whole byte string (throws what the decoder throws on invalid UTF-8). */
function obviousBatches(bytes: Buffer, size: number): ChangeBatch[] {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (text.endsWith('\n')) lines.pop();
  const kept = lines.filter((l) => l.trim() !== '');
  const batches: ChangeBatch[] = [];
  for (let i = 0; i < kept.length; i += size) {
    const slice = kept.slice(i, i + size);
    batches.push({ json: `[${slice.join(',')}]`, count: slice.length });
  }
  return batches;
}

/** `bytes` cut into chunks at the given offsets (so multi-byte characters and CRLFs are split). */
async function* chunked(bytes: Buffer, cuts: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    yield bytes.subarray(at, cut);
    at = cut;
  }
  yield bytes.subarray(at);
}

async function collect(source: AsyncIterable<Uint8Array>, size: number, expectCount?: number) {
  const got: ChangeBatch[] = [];
  for await (const b of byteBatches(source, size, expectCount)) got.push(b);
  return got;
}

// Lines as a change file may hold them: JSON, blank, ASCII and Unicode whitespace (NBSP, U+2028,
// BOM, ideographic space), a byte-order mark opening the file or not, CRLF, multi-byte text, and
// control characters that are not whitespace.
const piece = fc.constantFrom(
  '{"upsert": {"id": "a", "body": "é — ✓ 🏳️‍🌈"}}',
  '{"delete": {"id": "b"}}',
  '',
  ' \t',
  '\r',
  '\u00a0',
  '\u2028',
  '\ufeff \u3000',
  '\u00a0x',
  '\u0000',
  '\u001f',
  '\u0085',
  'é',
);
const file = fc.tuple(fc.array(fc.array(piece, { maxLength: 3 }), { maxLength: 40 }), fc.boolean(), fc.boolean());

describe('byteBatches', () => {
  it('gives the same batches as decoding, splitting and joining the lines, however the bytes are chunked', async () => {
    await fc.assert(
      fc.asyncProperty(
        file,
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 7 }),
        async ([ls, nl], cuts, size) => {
          const text = ls.map((l) => l.join('')).join(ls.length % 2 ? '\n' : '\r\n') + (nl ? '\n' : '');
          const bytes = Buffer.from(text, 'utf8');
          expect(await collect(chunked(bytes, cuts), size)).toEqual(obviousBatches(bytes, size));
        },
      ),
      { numRuns: 400, seed: 20261201 },
    );
  });

  it('refuses invalid UTF-8 with the decoder error, in a line or in a blank-looking line', async () => {
    for (const bad of [Buffer.from([0x7b, 0xff, 0x7d, 0x0a]), Buffer.from([0x20, 0xc3, 0x0a, 0x7b, 0x7d])]) {
      expect(() => obviousBatches(bad, 5)).toThrow(TypeError);
      await expect(collect(chunked(bad, [1]), 5)).rejects.toThrow(TypeError);
    }
  });

  it('checks the count at the end', async () => {
    const bytes = Buffer.from('{"delete": {"id": "a"}}\n\n{"delete": {"id": "b"}}');
    expect(await collect(chunked(bytes, []), 5, 2)).toHaveLength(1);
    await expect(collect(chunked(bytes, []), 5, 3)).rejects.toThrow(VerificationFailedError);
  });

  it('refuses a batch longer than a string can be, naming the change, before building it', async () => {
    // The bound is MAX_BATCH_BYTES (2^29 - 24); here 100 bytes, so lines of 30 bytes fill a batch at the fourth.
    const line = '{"delete": {"id": "abcdefg"}}'; // 29 bytes
    const bytes = Buffer.from(Array.from({ length: 9 }, () => line).join('\n'));
    const read = async (maxBytes: number, size: number) => {
      const got: ChangeBatch[] = [];
      for await (const b of byteBatches(chunked(bytes, [7, 40]), size, undefined, maxBytes)) got.push(b);
      return got;
    };
    // [ + 3 lines + 2 commas + ] = 2 + 87 + 2 = 91 bytes: within 100; a fourth line would make 121.
    expect((await read(100, 3)).map((b) => b.count)).toEqual([3, 3, 3]);
    const refused = read(100, 4);
    await expect(refused).rejects.toThrow(InvalidInputError);
    await expect(read(100, 4)).rejects.toThrow(/change 4 would make its batch longer than/);
    expect((await read(121, 4)).map((b) => b.count)).toEqual([4, 4, 1]);
    expect(MAX_BATCH_BYTES).toBe(2 ** 29 - 24);
  });
});
