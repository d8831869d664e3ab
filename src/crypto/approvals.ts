/**
 * Approval signatures with node:crypto Ed25519: signing here (needs the private key), verification
 * in machines/approvals.ts (pure, shared with the machine's guards). Public keys travel as
 * `ed25519:<base64 of the raw 32 bytes>`.
 */
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { approvalPayload } from '../../machines/approvals.js';
import { InvalidInputError } from '../errors.js';

/** `ed25519:<base64>` text of a public key (or of the public half of a private key). */
export function publicKeyText(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || !jwk.x) throw new InvalidInputError('key: not an Ed25519 key');
  return `ed25519:${Buffer.from(jwk.x, 'base64url').toString('base64')}`;
}

/** Parses PKCS8 PEM text of an Ed25519 private key. */
export function parsePrivateKey(pem: string, where: string): KeyObject {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not Ed25519');
    return key;
  } catch (err) {
    throw new InvalidInputError(`${where}: not an Ed25519 private key (${(err as Error).message})`);
  }
}

/** Base64 Ed25519 signature over the approval payload. */
export function signApproval(privateKey: KeyObject, p: Parameters<typeof approvalPayload>[0]): string {
  return sign(null, Buffer.from(approvalPayload(p)), privateKey).toString('base64');
}
