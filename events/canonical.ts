/**
 * Canonical JSON (RFC 8785, via `canonicalize`) and SHA-256 over it: the one way cutter hashes
 * structured data (plan hash, row images, receipts, approval payloads, the event hash chain).
 * Lives in events/ because the pure core (machines/, events/) needs it and imports nothing from src/.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** RFC 8785 canonical JSON text of `value`. Throws on values JSON cannot represent. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('canonicalJson: value has no JSON representation');
  return text;
}

/** Lower-case hex SHA-256 of a string or bytes. */
export function sha256(input: string | Uint8Array): string {
  return createHash('sha256').update(input).digest('hex');
}

/** SHA-256 of the canonical JSON of `value`. */
export function hashOf(value: unknown): string {
  return sha256(canonicalJson(value));
}
