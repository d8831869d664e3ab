/**
 * Encrypted backups: the pre-image's canonical JSON, OpenPGP-encrypted to every configured recipient
 * (armored, readable by stock gpg), and decrypted with its hash re-checked against the recorded one.
 */
import * as openpgp from 'openpgp';
import { sha256 } from '../../events/canonical.js';
import { InvalidInputError, VerificationFailedError } from '../errors.js';

/** Encrypts `plaintext` to the armored public keys; returns the armored message and fingerprints. */
export async function encryptBackup(plaintext: string, recipientArmoredKeys: string[]): Promise<{ armored: string; recipients: string[] }> {
  if (recipientArmoredKeys.length === 0) throw new InvalidInputError('backup.recipients: at least one recipient public key is required for a live run');
  const keys = await Promise.all(
    recipientArmoredKeys.map(async (armoredKey, i) => {
      try {
        return await openpgp.readKey({ armoredKey });
      } catch (err) {
        throw new InvalidInputError(`backup.recipients[${i}]: not an armored OpenPGP public key (${(err as Error).message})`);
      }
    }),
  );
  const message = await openpgp.createMessage({ text: plaintext });
  const armored = await openpgp.encrypt({ message, encryptionKeys: keys, format: 'armored' });
  return { armored: armored as string, recipients: keys.map((k) => k.getFingerprint()) };
}

/** Decrypts an armored backup and checks its SHA-256 against `expectedSha256`. */
export async function decryptBackup(armored: string, privateKey: openpgp.PrivateKey, expectedSha256: string): Promise<string> {
  const message = await openpgp.readMessage({ armoredMessage: armored });
  let data: string;
  try {
    ({ data } = (await openpgp.decrypt({ message, decryptionKeys: privateKey })) as { data: string });
  } catch (err) {
    throw new InvalidInputError(`backup: cannot decrypt with this key (${(err as Error).message})`);
  }
  const actual = sha256(data);
  if (actual !== expectedSha256) throw new VerificationFailedError(`backup: plaintext hash ${actual} differs from the recorded ${expectedSha256}`);
  return data;
}
