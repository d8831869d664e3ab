/**
 * The governance stream's events (DESIGN §7): the registry of members, the policy and the admin
 * threshold, recorded as versions. Version 1 (genesis) takes effect when it is recorded, signed by
 * an admin it lists; its hash is the trust root. Each later version is proposed by an admin of the
 * version before it and takes effect once `admins.threshold` admins of that version have signed.
 */
import { z } from 'zod';
import { hashOf } from './canonical.js';
import { Hash, Iso, Policy } from './common.js';
import { GOVERNANCE_STREAM } from './streams.js';

export { GOVERNANCE_STREAM };

/** Built-in roles; any other name is a business role that `policy.roles` may require. */
export const ROLES = ['author', 'approver', 'operator', 'admin'] as const;
export type BuiltInRole = (typeof ROLES)[number];

export const MemberName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'letters, digits, ".", "_", "@" or "-"');
const RoleName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-"');

/** `ed25519:<base64 of 32 bytes>` (a cutter key) or an OpenSSH `ssh-ed25519 AAAA… [comment]` line. */
export const PublicKeyText = z
  .string()
  .refine(
    (s) =>
      /^ed25519:[A-Za-z0-9+/]{43}=$/.test(s) ||
      /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/]+={0,2}( [^\n]*)?$/.test(s),
    'ed25519:<base64 of the 32-byte key>, or an OpenSSH "ssh-ed25519 AAAA…" public key',
  );

/**
 * The raw 32-byte Ed25519 key of a member key text (`ed25519:<base64>` or `ssh-ed25519 AAAA…`),
 * or undefined when malformed or not in canonical base64 (one key, one spelling).
 */
export function rawKeyOf(text: string): Buffer | undefined {
  if (text.startsWith('ed25519:')) {
    const b64 = text.slice('ed25519:'.length);
    const raw = Buffer.from(b64, 'base64');
    return raw.length === 32 && raw.toString('base64') === b64 ? raw : undefined;
  }
  const [type, b64] = text.split(' ');
  if (type !== 'ssh-ed25519' || !b64) return undefined;
  const blob = Buffer.from(b64, 'base64');
  if (blob.toString('base64') !== b64) return undefined;
  // string "ssh-ed25519" || string key(32)
  if (
    blob.length !== 4 + 11 + 4 + 32 ||
    blob.readUInt32BE(0) !== 11 ||
    blob.toString('latin1', 4, 15) !== 'ssh-ed25519' ||
    blob.readUInt32BE(15) !== 32
  )
    return undefined;
  return blob.subarray(19);
}

export const Member = z.strictObject({
  publicKey: PublicKeyText.refine(
    (k) => rawKeyOf(k) !== undefined,
    'not a valid Ed25519 public key in canonical base64',
  ),
  roles: z.array(RoleName).min(1),
});
export type Member = z.infer<typeof Member>;

export const Registry = z
  .strictObject({
    members: z.record(MemberName, Member),
    policy: Policy,
    admins: z.strictObject({ threshold: z.number().int().min(1) }),
  })
  .superRefine((r, ctx) => {
    const admins = Object.entries(r.members).filter(([, m]) => m.roles.includes('admin'));
    if (admins.length < r.admins.threshold) {
      ctx.addIssue({
        code: 'custom',
        path: ['admins', 'threshold'],
        message: `${r.admins.threshold} admin signatures required but only ${admins.length} member(s) have role admin`,
      });
    }
    const seen = new Map<string, string>();
    for (const [name, m] of Object.entries(r.members)) {
      // The same key written two ways (cutter and OpenSSH form) is the same key.
      const key = rawKeyOf(m.publicKey)?.toString('hex') ?? m.publicKey;
      const other = seen.get(key);
      if (other)
        ctx.addIssue({
          code: 'custom',
          path: ['members', name, 'publicKey'],
          message: `the same key as member ${other} (one key, one member: four-eyes counts keys)`,
        });
      seen.set(key, name);
    }
  });
export type Registry = z.infer<typeof Registry>;

/** A registry version proposed (and signed) by an admin. Version 1 is genesis. */
export const GovernanceProposed = z.strictObject({
  version: z.number().int().min(1),
  registry: Registry,
  registryHash: Hash,
  /** The registry hash of the version this one replaces (null for genesis). */
  previous: Hash.nullable(),
  at: Iso,
});
/** An admin's signature on a proposed version (the proposal itself counts as its proposer's). */
export const GovernanceApproved = z.strictObject({ version: z.number().int().min(2), registryHash: Hash, at: Iso });

export const GovernanceEvent = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('GovernanceProposed'), data: GovernanceProposed }),
  z.strictObject({ type: z.literal('GovernanceApproved'), data: GovernanceApproved }),
]);
export type GovernanceEvent = z.infer<typeof GovernanceEvent>;

/** The member of that name, never an inherited property (`constructor`, `__proto__`). */
export function memberOf(registry: Registry | undefined, name: string): Member | undefined {
  return registry && Object.hasOwn(registry.members, name) ? registry.members[name] : undefined;
}

/** The hash that identifies a registry's content. */
export function registryHash(registry: Registry): string {
  return hashOf(registry);
}

/** The trust root: the hash of the genesis event's data (registry, its hash, time). */
export function trustRoot(genesis: z.infer<typeof GovernanceProposed>): string {
  return hashOf({
    version: genesis.version,
    registry: genesis.registry,
    registryHash: genesis.registryHash,
    previous: genesis.previous,
    at: genesis.at,
  });
}
