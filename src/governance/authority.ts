/**
 * Authority at call time (DESIGN §7): the governance registry read from the store and checked
 * against the pinned trust root, and the acting member's signer. Every event a command records is
 * signed here, after checking that the signer's key is the one enrolled for them and that they hold
 * the role the event needs. `--as` only chooses which private key signs; the key decides.
 */
import { memberOf } from '../../events/governance.js';
import { timeOrderedUuid } from '../store/append.js';
import { GOVERNANCE_STREAM, type Registry } from '../../events/governance.js';
import { signedMessage, type EventSignature } from '../../events/signature.js';
import { toStorable, type DomainEvent, type StorableEvent } from '../../events/index.js';
import { MACHINE_VERSION } from '../../machines/cut.js';
import type { Sign } from '../commands/handle.js';
import { current, foldGovernance, type Crypto, type GovernanceState } from '../domain/governance.js';
import { requiredRoles } from '../domain/trust.js';
import { GovernanceRefusedError } from '../errors.js';
import { keyFingerprint, verifySignature } from '../crypto/signatures.js';
import type { Signer } from '../crypto/signer.js';
import type { EventStore, NewEvent } from '../store/index.js';

export const nodeCrypto: Crypto = { verify: verifySignature, fingerprint: keyFingerprint };

/** The folded governance stream; `pin` is the trust root expected (checked when given). */
export async function readGovernance(store: EventStore, pin?: string): Promise<GovernanceState> {
  return foldGovernance(await store.readStream(GOVERNANCE_STREAM), nodeCrypto, pin);
}

/**
 * The governance in force, checked against the pin: GovernanceRefused (exit 3) when nothing is
 * pinned (`requirePin`), when the store has no governance, or when its genesis is not the pin.
 */
export async function pinnedGovernance(
  store: EventStore,
  pin: string | undefined,
  opts: { requirePin: boolean },
): Promise<GovernanceState> {
  if (!pin && opts.requirePin) {
    throw new GovernanceRefusedError(
      'no trust root is pinned: set trust.root in the config to the root printed by `cutter governance show` (or ' +
        'given to you by your admins)',
    );
  }
  const g = await readGovernance(store, pin);
  const bad = g.violations.find((v) => v.rule === 'trust-root');
  if (bad) throw new GovernanceRefusedError(`this store's governance is not the pinned one: ${bad.message}`);
  if (!g.root)
    throw new GovernanceRefusedError(
      'this store has no governance yet: record it with `cutter governance apply <file> --as <admin>`',
    );
  return g;
}

export interface Authority {
  signer: Signer;
  governance: GovernanceState;
  /** The governance version the signer is checked (and signs) under. */
  version: number;
  registry: Registry;
}

/** The signer, checked against the governance in force: enrolled, with exactly that key. */
export function authorityOf(signer: Signer, governance: GovernanceState): Authority {
  const cur = current(governance);
  if (!cur) throw new GovernanceRefusedError('this store has no governance in force');
  const member = memberOf(cur.registry, signer.name);
  if (!member) throw new GovernanceRefusedError(`${signer.name} is not a member of governance version ${cur.version}`);
  if (keyFingerprint(member.publicKey) !== signer.fingerprint) {
    throw new GovernanceRefusedError(
      `the key of ${signer.name} (${signer.fingerprint}) is not the key enrolled for ${signer.name} ` +
        `(${keyFingerprint(member.publicKey)})`,
    );
  }
  return { signer, governance, version: cur.version, registry: cur.registry };
}

/**
 * The authority re-derived when governance changed since it was read (a long live run spans
 * minutes): events are signed under the version in force now, and a signer removed meanwhile is
 * refused. The pin was checked when `auth` was made; genesis cannot change after that.
 */
export async function refreshAuthority(store: EventStore, auth: Authority): Promise<Authority> {
  if ((await store.streamVersion(GOVERNANCE_STREAM)) === auth.governance.streamVersion) return auth;
  const governance = await readGovernance(store, auth.governance.root);
  return authorityOf(auth.signer, governance);
}

/** Refuses unless the signer holds one of the roles `type` needs on `streamId`. */
export function requireRole(auth: Authority, streamId: string, type: string): void {
  const roles = requiredRoles(streamId, type);
  const member = memberOf(auth.registry, auth.signer.name)!;
  if (roles && !roles.some((r) => member.roles.includes(r))) {
    throw new GovernanceRefusedError(
      `${auth.signer.name} may not record ${type}: it needs role ${roles.join(' or ')} (has ` +
        `${member.roles.join(', ')})`,
    );
  }
}

/**
 * Signs `events` for positions `fromVersion + 1 …` of `streamId`, after the role check of each.
 * Ids are fixed here because the signature covers them: time-ordered UUIDs, as the store makes (src/store/append.ts).
 */
export async function signEvents(
  auth: Authority,
  streamId: string,
  fromVersion: number,
  events: StorableEvent[],
): Promise<NewEvent[]> {
  const out: NewEvent[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    requireRole(auth, streamId, e.type);
    const id = timeOrderedUuid();
    const fields = { signer: auth.signer.name, key: auth.signer.fingerprint, governance: auth.version };
    const schemaVersion = Number(e.metadata.schemaVersion ?? 1);
    const sig = await auth.signer.sign(
      signedMessage({
        streamId,
        version: fromVersion + i + 1,
        eventId: id,
        type: e.type,
        schemaVersion,
        data: e.data,
        ...fields,
      }),
    );
    const signature: EventSignature = { ...fields, scheme: auth.signer.scheme, sig };
    out.push({ id, type: e.type, data: e.data, metadata: { ...e.metadata, signature } });
  }
  return out;
}

/**
 * The command handler's signing step (src/commands/handle.ts): each decided event made storable
 * and signed. With an Authority, by its member under the governance in force when signing (re-read
 * when it changed since `auth` was made: a long live run spans minutes); with a function, by the
 * authority it derives from the state the events were decided on (the governance stream itself).
 */
export function signingAs<State>(
  store: EventStore,
  auth: Authority | ((state: State) => Authority),
): Sign<State, { type: string; data: unknown }> {
  return async (events, { streamId, fromVersion, state }) => {
    const a = typeof auth === 'function' ? auth(state) : await refreshAuthority(store, auth);
    const storable = events.map((e) => toStorable(e as DomainEvent, { machineVersion: MACHINE_VERSION }));
    return { events: await signEvents(a, streamId, fromVersion, storable), actor: a.signer.name };
  };
}
