/**
 * Verifying and fingerprinting member keys: cutter's own `ed25519:<base64>` keys and OpenSSH
 * `ssh-ed25519` keys (the same curve; SSH signatures arrive as SSHSIG, verified here in Node, so an
 * auditor needs no ssh-keygen). Pure: no I/O, no clock. Signing needs a private key: signer.ts.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { rawKeyOf } from '../../events/governance.js';
import { SSHSIG_NAMESPACE, type SignatureScheme } from '../../events/signature.js';

export { rawKeyOf };
import { verifySshSig } from './sshsig.js';

/** The OpenSSH wire blob of an Ed25519 key (what `ssh-keygen -l` hashes). */
function wireBlob(raw: Buffer): Buffer {
  const len = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  return Buffer.concat([len(11), Buffer.from('ssh-ed25519'), len(raw.length), raw]);
}

/**
 * `SHA256:<base64>` — OpenSSH's fingerprint of the key, whichever form it is written in, so a
 * cutter key and an SSH key with the same bytes have the same fingerprint and `ssh-keygen -lf`
 * shows the fingerprint cutter records.
 */
export function keyFingerprint(text: string): string {
  const known = fingerprints.get(text);
  if (known) return known;
  const raw = rawKeyOf(text);
  if (!raw) throw new TypeError('keyFingerprint: not an Ed25519 public key');
  const fp = `SHA256:${createHash('sha256').update(wireBlob(raw)).digest('base64').replace(/=+$/, '')}`;
  if (fingerprints.size >= 1024) fingerprints.clear();
  fingerprints.set(text, fp);
  return fp;
}

/** Fingerprints by key text: members are few and every event's check asks again. */
const fingerprints = new Map<string, string>();

/** The signature scheme a member key signs with. */
export function schemeOf(publicKey: string): SignatureScheme {
  return publicKey.startsWith('ssh-ed25519 ') ? 'sshsig' : 'ed25519';
}

const keyObjects = new Map<string, KeyObject | null>();

function keyObject(raw: Buffer): KeyObject | null {
  const id = raw.toString('base64');
  let key = keyObjects.get(id);
  if (key !== undefined) return key;
  try {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  } catch {
    key = null;
  }
  if (keyObjects.size >= 1024) keyObjects.clear();
  keyObjects.set(id, key);
  return key;
}

/**
 * True when `sig` is a valid signature over `message` by `publicKey` (member key text) in the
 * scheme the key implies. Never throws: malformed input is simply not a valid signature.
 */
export function verifySignature(publicKey: string, message: Buffer, sig: string): boolean {
  const raw = rawKeyOf(publicKey);
  if (!raw) return false;
  if (schemeOf(publicKey) === 'sshsig')
    return verifySshSig({ publicKey: raw, message, signature: sig, namespace: SSHSIG_NAMESPACE });
  const key = keyObject(raw);
  if (!key) return false;
  try {
    return verify(null, message, key, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}
