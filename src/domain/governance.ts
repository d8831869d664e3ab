/**
 * The governance registry folded from its stream (DESIGN §7), pure: signatures are checked with an
 * injected verifier (src/crypto supplies it), so this module has no I/O. Genesis (version 1) takes
 * effect when recorded and must be signed by an admin it lists; its hash is the trust root. A later
 * version takes effect once `admins.threshold` distinct admin keys of the version before it signed
 * it (the proposal counts as its proposer's signature). Anything else is a named violation, and
 * the event is ignored: a forged proposal never changes who may do what.
 */
import { memberOf } from '../../events/governance.js';
import { GovernanceEvent, registryHash, trustRoot, type Member, type Registry } from '../../events/governance.js';
import { EventSignature, storedSignedMessage } from '../../events/signature.js';

/** (publicKey text, message, signature) → valid? Supplied by src/crypto/signatures.ts. */
export type VerifyFn = (publicKey: string, message: Buffer, sig: string) => boolean;
/** Member key text → `SHA256:…` fingerprint. */
export type FingerprintFn = (publicKey: string) => string;

export interface Crypto {
  verify: VerifyFn;
  fingerprint: FingerprintFn;
  /**
   * The verdict on event `e`'s own signature `s` by `publicKey`, when it was established ahead of
   * the check from this same event object (src/crypto/verify-pool.ts); undefined otherwise, and the
   * check builds the signed message and asks `verify`. Saves building each message twice.
   */
  eventVerdict?: (e: object, publicKey: string, s: EventSignature) => boolean | undefined;
}

export interface TrustViolation {
  streamId: string;
  version: number;
  eventId?: string;
  type: string;
  rule: TrustRule;
  message: string;
}

/** The rules replay's authority checks name (DESIGN §7). */
export const TRUST_RULES = [
  'unsigned',
  'signature',
  'unknown-signer',
  'role',
  'revoked',
  'governance',
  'trust-root',
  'policy',
  'approval',
  'four-eyes',
  'killswitch',
  'lock-evidence',
  'unknown-stream',
] as const;
export type TrustRule = (typeof TRUST_RULES)[number];

/** Where an event sits in commit order: (transaction id, global position), compared as bigints. */
export interface CommitPoint {
  transactionId: string;
  globalPosition: string;
}

export interface GovernanceVersion {
  version: number;
  registry: Registry;
  registryHash: string;
  /** The event that made this version effective (genesis, or the threshold-completing signature). */
  effectiveAt: CommitPoint | undefined;
}

export interface GovernanceState {
  /** The trust root (hash of genesis), when a valid genesis exists. */
  root?: string;
  /** Effective versions, in order; index i holds version i + 1. */
  versions: GovernanceVersion[];
  pending?: { version: number; registry: Registry; registryHash: string; proposer: string; signers: Set<string> };
  violations: TrustViolation[];
  /** Events folded (stream version). */
  streamVersion: number;
}

export interface GovernanceStored {
  streamId?: string;
  version: number;
  eventId?: string;
  type: string;
  data: unknown;
  metadata?: Record<string, unknown> | null;
  transactionId?: string;
  globalPosition?: string;
}

export const emptyGovernance = (): GovernanceState => ({ versions: [], violations: [], streamVersion: 0 });

/** The registry in force (latest effective version), if any. */
export function current(g: GovernanceState): GovernanceVersion | undefined {
  return g.versions.at(-1);
}

/** The effective registry of version `v`, if it exists. */
export function versionOf(g: GovernanceState, v: number): GovernanceVersion | undefined {
  return Number.isInteger(v) && v >= 1 ? g.versions[v - 1] : undefined;
}

const cmp = (a: CommitPoint, b: CommitPoint): number => {
  const t = BigInt(a.transactionId) - BigInt(b.transactionId);
  if (t !== 0n) return t < 0n ? -1 : 1;
  const p = BigInt(a.globalPosition) - BigInt(b.globalPosition);
  return p === 0n ? 0 : p < 0n ? -1 : 1;
};

/** The version in force just before commit point `at` (0 when none was yet). */
export function versionInForceAt(g: GovernanceState, at: CommitPoint): number {
  let v = 0;
  for (const gv of g.versions) if (!gv.effectiveAt || cmp(gv.effectiveAt, at) < 0) v = gv.version;
  return v;
}

/** Whether `member` of a registry holds any of `roles`. */
export const holdsRole = (member: Member | undefined, roles: readonly string[]): boolean =>
  !!member && roles.some((r) => member.roles.includes(r));

/**
 * Checks an event's signature envelope against `registry` (the version it names): the signer is a
 * member, the key fingerprint is the member's, the signature verifies over the event. Returns the
 * violation message, or undefined when valid. `parsed` is the envelope's parse when the caller has
 * already made it (checkEventTrust), so it is parsed once.
 */
export function checkSignature(
  e: GovernanceStored & { streamId: string },
  registry: Registry | undefined,
  crypto: Crypto,
  parsed: ReturnType<typeof EventSignature.safeParse> = EventSignature.safeParse(e.metadata?.signature),
): { rule: TrustRule; message: string } | undefined {
  if (!parsed.success) return { rule: 'unsigned', message: `${e.type} carries no valid signature` };
  const s = parsed.data;
  if (!registry)
    return { rule: 'governance', message: `signed under governance version ${s.governance}, which is not in force` };
  const member = memberOf(registry, s.signer);
  if (!member)
    return {
      rule: 'unknown-signer',
      message: `signed by ${s.signer}, not a member at governance version ${s.governance}`,
    };
  if (crypto.fingerprint(member.publicKey) !== s.key)
    return {
      rule: 'unknown-signer',
      message: `signed by ${s.signer} with key ${s.key}, not the key enrolled for ${s.signer}`,
    };
  const verdict = crypto.eventVerdict?.(e, member.publicKey, s);
  if (!(verdict ?? crypto.verify(member.publicKey, storedSignedMessage(e, s), s.sig)))
    return { rule: 'signature', message: `the signature by ${s.signer} does not verify over this event` };
  if (e.metadata?.actor !== undefined && e.metadata.actor !== s.signer)
    return { rule: 'signature', message: `recorded actor ${String(e.metadata.actor)} is not the signer ${s.signer}` };
  return undefined;
}

/**
 * Folds the governance stream. `pin`, when given, is the trust root the caller expects: a genesis
 * that hashes to anything else is a `trust-root` violation and nothing after it is trusted.
 */
export function foldGovernance(events: GovernanceStored[], crypto: Crypto, pin?: string): GovernanceState {
  const g = emptyGovernance();
  for (const e of events) {
    g.streamVersion = e.version;
    if (foldGovernanceEvent(g, e, crypto, pin) === 'stop') return g;
  }
  return g;
}

/** The data of one governance event type. */
type DataOf<T extends GovernanceEvent['type']> = Extract<GovernanceEvent, { type: T }>['data'];

/** How a folded event ends: nothing more to do, the pending proposal may now be enacted, or the fold stops. */
type Step = 'done' | 'enact' | 'stop';

/** What the fold of one event needs: its signer (an admin, or undefined once a violation is flagged) and `flag`. */
interface EventFold {
  /** The event's signer, if it is an admin of `registry` signing under `version`; otherwise flags why and undefined. */
  signedBy: (registry: Registry | undefined, version: number) => Member | undefined;
  signer: string | undefined;
  point: CommitPoint | undefined;
  flag: (rule: TrustRule, message: string) => void;
}

/** Folds one event of the governance stream into `g`; 'stop' when the genesis is not the pinned root. */
function foldGovernanceEvent(g: GovernanceState, e: GovernanceStored, crypto: Crypto, pin?: string): Step {
  const at = {
    streamId: e.streamId ?? 'governance',
    version: e.version,
    ...(e.eventId ? { eventId: e.eventId } : {}),
    type: e.type,
  };
  const flag = (rule: TrustRule, message: string) => g.violations.push({ ...at, rule, message });
  const parsed = GovernanceEvent.safeParse({ type: e.type, data: e.data });
  if (!parsed.success) {
    flag(
      'governance',
      `not a governance event: ${parsed.error.issues
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .slice(0, 2)
        .join('; ')}`,
    );
    return 'done';
  }
  const ev = parsed.data;
  const sig = EventSignature.safeParse(e.metadata?.signature);
  const signer = sig.success ? sig.data.signer : undefined;
  const point =
    e.transactionId && e.globalPosition
      ? { transactionId: e.transactionId, globalPosition: e.globalPosition }
      : undefined;
  const signedBy = (registry: Registry | undefined, version: number): Member | undefined => {
    if (sig.success && sig.data.governance !== version) {
      flag(
        'governance',
        `signed under governance version ${sig.data.governance}; this event must be checked under version ${version}`,
      );
      return undefined;
    }
    const bad = checkSignature({ ...e, streamId: at.streamId }, registry, crypto);
    if (bad) {
      flag(bad.rule, bad.message);
      return undefined;
    }
    const member = memberOf(registry, signer!);
    if (!holdsRole(member, ['admin'])) {
      flag('role', `${signer} is not an admin at governance version ${version}`);
      return undefined;
    }
    return member;
  };
  const fold: EventFold = { signedBy, signer, point, flag };
  const step =
    ev.type === 'GovernanceProposed'
      ? foldProposal(g, ev.data, fold, crypto, pin)
      : foldApproval(g, ev.data, fold, crypto);
  if (step === 'enact') enactIfApproved(g, point);
  return step;
}

/** A proposal: genesis (checked against `pin`, in force at once) or the next version, pending its approvals. */
function foldProposal(
  g: GovernanceState,
  d: DataOf<'GovernanceProposed'>,
  { signedBy, signer, point, flag }: EventFold,
  crypto: Crypto,
  pin: string | undefined,
): Step {
  if (registryHash(d.registry) !== d.registryHash) {
    flag('governance', `version ${d.version}: the registry does not hash to the recorded registry hash`);
    return 'done';
  }
  if (g.versions.length === 0) {
    if (d.version !== 1 || d.previous !== null) {
      flag('governance', `the first governance event must be genesis (version 1), found version ${d.version}`);
      return 'done';
    }
    const root = trustRoot(d);
    if (pin !== undefined && root !== pin) {
      flag('trust-root', `genesis hashes to ${root}, the pinned trust root is ${pin}`);
      return 'stop';
    }
    if (!signedBy(d.registry, 1)) return 'done';
    g.root = root;
    g.versions.push({ version: 1, registry: d.registry, registryHash: d.registryHash, effectiveAt: point });
    return 'done';
  }
  const cur = g.versions.at(-1)!;
  if (d.version !== cur.version + 1 || d.previous !== cur.registryHash) {
    flag('governance', `proposal of version ${d.version} does not extend version ${cur.version}`);
    return 'done';
  }
  const member = signedBy(cur.registry, cur.version);
  if (!member) return 'done';
  g.pending = {
    version: d.version,
    registry: d.registry,
    registryHash: d.registryHash,
    proposer: signer!,
    signers: new Set([crypto.fingerprint(member.publicKey)]),
  };
  return 'enact';
}

/** An approval of the pending proposal: its signer's key counted once. */
function foldApproval(
  g: GovernanceState,
  d: DataOf<'GovernanceApproved'>,
  { signedBy, flag }: EventFold,
  crypto: Crypto,
): Step {
  const cur = g.versions.at(-1);
  if (!cur || !g.pending || g.pending.version !== d.version || g.pending.registryHash !== d.registryHash) {
    flag('governance', `approval of version ${d.version} matches no pending proposal`);
    return 'done';
  }
  const member = signedBy(cur.registry, cur.version);
  if (!member) return 'done';
  g.pending.signers.add(crypto.fingerprint(member.publicKey));
  return 'enact';
}

/** The pending version takes effect at `point` once `admins.threshold` distinct admin keys signed it. */
function enactIfApproved(g: GovernanceState, point: CommitPoint | undefined): void {
  const cur = g.versions.at(-1)!;
  if (g.pending && g.pending.signers.size >= cur.registry.admins.threshold) {
    g.versions.push({
      version: g.pending.version,
      registry: g.pending.registry,
      registryHash: g.pending.registryHash,
      effectiveAt: point,
    });
    delete g.pending;
  }
}
