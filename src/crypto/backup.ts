/**
 * Encrypted backups: the backup plaintext (src/adapters/backup-format.ts) OpenPGP-encrypted to every
 * configured recipient, readable by stock gpg. Encryption and decryption stream (OpenPGP.js over web
 * streams), so a backup of a million rows is never held whole; decryption re-checks the plaintext's
 * SHA-256 against the recorded one at the end of the stream.
 */
import { createHash } from 'node:crypto';
import * as openpgp from 'openpgp';
import { sha256 } from '../../events/canonical.js';
import { InvalidInputError, VerificationFailedError } from '../errors.js';

/**
 * The recipients' keys, read; InvalidInputError naming `backup.recipients` (none) or the entry that
 * is not an armored OpenPGP public key. A live run calls it before it records anything.
 */
export async function recipientKeys(recipientArmoredKeys: string[]): Promise<openpgp.Key[]> {
  if (recipientArmoredKeys.length === 0)
    throw new InvalidInputError('backup.recipients: at least one recipient public key is required for a live run');
  return Promise.all(
    recipientArmoredKeys.map(async (armoredKey, i) => {
      try {
        return await openpgp.readKey({ armoredKey });
      } catch (err) {
        throw new InvalidInputError(
          `backup.recipients[${i}]: not an armored OpenPGP public key (${(err as Error).message})`,
        );
      }
    }),
  );
}

/** Encrypts `plaintext` to the armored public keys; returns the armored message and fingerprints. */
export async function encryptBackup(
  plaintext: string,
  recipientArmoredKeys: string[],
): Promise<{ armored: string; recipients: string[] }> {
  const keys = await recipientKeys(recipientArmoredKeys);
  const message = await openpgp.createMessage({ binary: new TextEncoder().encode(plaintext) });
  const armored = await openpgp.encrypt({ message, encryptionKeys: keys, format: 'armored' });
  return { armored: armored as string, recipients: keys.map((k) => k.getFingerprint()) };
}

export interface EncryptionStream {
  recipients: string[];
  /** Writes plaintext (awaits backpressure). */
  write(text: string): Promise<void>;
  end(): Promise<void>;
  abort(reason: unknown): Promise<void>;
  /** The binary OpenPGP message, as it is produced. */
  output: AsyncIterable<Uint8Array>;
}

/** Starts a streaming encryption to the recipients: write plaintext in, read the message out. */
export async function encryptionStream(recipientArmoredKeys: string[]): Promise<EncryptionStream> {
  const keys = await recipientKeys(recipientArmoredKeys);
  const input = new TransformStream<Uint8Array, Uint8Array>();
  const writer = input.writable.getWriter();
  const message = await openpgp.createMessage({ binary: input.readable });
  const encrypted = (await openpgp.encrypt({
    message,
    encryptionKeys: keys,
    format: 'binary',
  })) as unknown as ReadableStream<Uint8Array>;
  const encoder = new TextEncoder();
  return {
    recipients: keys.map((k) => k.getFingerprint()),
    async write(text) {
      await writer.ready;
      await writer.write(encoder.encode(text));
    },
    end: () => writer.close(),
    abort: (reason) => writer.abort(reason).catch(() => undefined),
    output: encrypted as unknown as AsyncIterable<Uint8Array>,
  };
}

/**
 * Decrypts a backup — a binary message streamed from the vault, or an armored one (older backups)
 * — yielding plaintext bytes; throws at the end when their SHA-256 is not `expectedSha256`.
 * Unauthenticated streaming is allowed on purpose: every consumer restores inside a transaction
 * that this final check rolls back, so nothing unverified is ever committed.
 */
export async function* decryptBackupStream(
  source: AsyncIterable<Uint8Array> | string,
  privateKey: openpgp.PrivateKey,
  expectedSha256: string,
): AsyncGenerator<Uint8Array> {
  const message =
    typeof source === 'string'
      ? await openpgp.readMessage({ armoredMessage: source })
      : await openpgp.readMessage({ binaryMessage: toWebStream(source) });
  let data: ReadableStream<Uint8Array> | Uint8Array;
  try {
    ({ data } = (await openpgp.decrypt({
      message,
      decryptionKeys: privateKey,
      format: 'binary',
      config: { allowUnauthenticatedStream: true },
    })) as { data: ReadableStream<Uint8Array> | Uint8Array });
  } catch (err) {
    throw new InvalidInputError(`backup: cannot decrypt with this key (${(err as Error).message})`);
  }
  const hash = createHash('sha256');
  if (data instanceof Uint8Array) {
    hash.update(data);
    yield data;
  } else {
    for await (const chunk of data as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      yield chunk;
    }
  }
  const actual = hash.digest('hex');
  if (actual !== expectedSha256)
    throw new VerificationFailedError(`backup: plaintext hash ${actual} differs from the recorded ${expectedSha256}`);
}

/** Decrypts a whole (small) backup to text; see decryptBackupStream. */
export async function decryptBackup(
  source: AsyncIterable<Uint8Array> | string,
  privateKey: openpgp.PrivateKey,
  expectedSha256: string,
): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const part of decryptBackupStream(source, privateKey, expectedSha256)) parts.push(part);
  const text = Buffer.concat(parts).toString('utf8');
  if (sha256(text) !== expectedSha256) throw new VerificationFailedError('backup: plaintext is not valid UTF-8');
  return text;
}

function toWebStream(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await it.return?.(reason);
    },
  });
}
