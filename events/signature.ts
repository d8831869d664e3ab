/**
 * The signature every recorded event carries (DESIGN §7), kept in the event's metadata under
 * `signature`: who signed, the key's fingerprint, the governance version the signer was checked
 * under, the scheme, and the signature over `signedMessage` — the canonical JSON of the event's
 * stream, version, id, type, schema version and data plus those fields. Binding stream and version
 * means a signed event cannot be moved, reordered or replayed elsewhere without breaking it.
 */
import { z } from 'zod';
import { canonicalJson } from './canonical.js';

export const SignatureScheme = z.enum(['ed25519', 'sshsig']);
export type SignatureScheme = z.infer<typeof SignatureScheme>;

export const EventSignature = z.strictObject({
  signer: z.string().min(1),
  /** OpenSSH-style `SHA256:<base64>` fingerprint of the signer's public key. */
  key: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/),
  governance: z.number().int().min(1),
  scheme: SignatureScheme,
  /** base64 Ed25519 signature, or an armored SSHSIG (namespace `cutter`). */
  sig: z.string().min(1),
});
export type EventSignature = z.infer<typeof EventSignature>;

export interface SignedFields {
  streamId: string;
  version: number;
  eventId: string;
  type: string;
  schemaVersion: number;
  data: unknown;
  signer: string;
  key: string;
  governance: number;
}

/** The exact bytes an event's signature covers. */
export function signedMessage(f: SignedFields): Buffer {
  return Buffer.from(
    canonicalJson({
      domain: 'cutter-event/1',
      streamId: f.streamId,
      version: f.version,
      eventId: f.eventId,
      type: f.type,
      schemaVersion: f.schemaVersion,
      data: f.data ?? null,
      signer: f.signer,
      key: f.key,
      governance: f.governance,
    }),
  );
}

/** The bytes a stored event's signature `s` covers (what replay verifies). */
export function storedSignedMessage(
  e: {
    streamId: string;
    version: number;
    eventId?: string;
    type: string;
    data: unknown;
    metadata?: Record<string, unknown> | null;
  },
  s: Pick<EventSignature, 'signer' | 'key' | 'governance'>,
): Buffer {
  return signedMessage({
    streamId: e.streamId,
    version: e.version,
    eventId: e.eventId ?? '',
    type: e.type,
    schemaVersion: Number(e.metadata?.schemaVersion ?? 1),
    data: e.data,
    signer: s.signer,
    key: s.key,
    governance: s.governance,
  });
}

/** The SSHSIG namespace cutter signs and verifies under. */
export const SSHSIG_NAMESPACE = 'cutter';
