/**
 * What replay checks beyond the machine (DESIGN §7), pure: every event signed by a member enrolled
 * at the governance version it names, holding the role its type needs, not revoked at the point
 * it was committed; a cut's author is its signer and its policy is governance's; approvals are
 * checked against the registry (never against a key the event carries), four-eyes by key; lock
 * evidence against the kill-switch stream as it stood. Signatures are verified by the injected
 * `Crypto`; the caller supplies the folded governance and the kill-switch stream.
 */
import { memberOf } from '../../events/governance.js';
import { approvalPayload, type ApprovalRecord } from '../../machines/approvals.js';
import { KILL_SWITCH_STREAM } from '../../machines/killswitch.js';
import { canonicalJson } from '../../events/canonical.js';
import { EventSignature } from '../../events/signature.js';
import { GOVERNANCE_STREAM } from '../../events/governance.js';
import { CHECKPOINT_STREAM } from '../../events/checkpoint.js';
import { KillSwitchEvent, parseStored, type EventOf } from '../../events/index.js';
import {
  checkSignature,
  holdsRole,
  versionInForceAt,
  versionOf,
  type CommitPoint,
  type Crypto,
  type GovernanceState,
  type GovernanceStored,
  type TrustRule,
  type TrustViolation,
} from './governance.js';
import { CUT_STREAM_PREFIX, isCutStream } from '../../events/streams.js';

export { CUT_STREAM_PREFIX };

/** Roles that may record `type` on `streamId`; `null` means any enrolled member. */
export function requiredRoles(streamId: string, type: string): readonly string[] | null {
  if (streamId === KILL_SWITCH_STREAM) return type === 'KillSwitchReleased' ? ['admin'] : null;
  if (streamId === GOVERNANCE_STREAM) return ['admin'];
  if (streamId === CHECKPOINT_STREAM) return null;
  switch (type) {
    case 'CutPlanned':
      return ['author'];
    case 'ApprovalGranted':
      return ['approver'];
    case 'CutAborted':
      return ['author', 'admin'];
    case 'DryRunStarted':
    case 'PhaseSimulated':
    case 'DryRunCompleted':
      return ['operator', 'author'];
    case 'RevertStarted':
    case 'CutReverted':
    case 'RevertFailed':
    case 'RunContinued':
      return ['operator', 'admin'];
    default:
      return ['operator'];
  }
}

const point = (e: GovernanceStored): CommitPoint | undefined =>
  e.transactionId && e.globalPosition
    ? { transactionId: e.transactionId, globalPosition: e.globalPosition }
    : undefined;

/**
 * The signature, role and revocation checks common to every stream. Returns the violations of
 * `e` and, when its signature is valid, the signer's name and key fingerprint.
 */
export function checkEventTrust(
  e: GovernanceStored & { streamId: string },
  gov: GovernanceState,
  crypto: Crypto,
): { violations: TrustViolation[]; signer?: { name: string; key: string; governance: number } } {
  const at = { streamId: e.streamId, version: e.version, ...(e.eventId ? { eventId: e.eventId } : {}), type: e.type };
  const violations: TrustViolation[] = [];
  const flag = (rule: TrustRule, message: string) => violations.push({ ...at, rule, message });
  const sig = EventSignature.safeParse(e.metadata?.signature);
  const named = sig.success ? versionOf(gov, sig.data.governance) : undefined;
  const bad = checkSignature(e, named?.registry, crypto, sig);
  if (bad || !sig.success) {
    flag(bad?.rule ?? 'unsigned', bad?.message ?? `${e.type} carries no valid signature`);
    return { violations };
  }
  const s = sig.data;
  const roles = requiredRoles(e.streamId, e.type);
  const member = memberOf(named!.registry, s.signer);
  if (roles && !holdsRole(member, roles))
    flag('role', `${s.signer} lacks role ${roles.join(' or ')} for ${e.type} at governance version ${s.governance}`);
  const p = point(e);
  if (p) {
    // An event is checked under the governance in force when it was committed: a signer who names
    // an older version (a runner that never read the newer one) or a newer one is a violation.
    const inForce = versionInForceAt(gov, p);
    if (s.governance !== inForce) {
      const now = memberOf(versionOf(gov, inForce)?.registry, s.signer);
      const revoked = !now || (roles && !holdsRole(now, roles)) || crypto.fingerprint(now.publicKey) !== s.key;
      flag(
        revoked ? 'revoked' : 'governance',
        revoked
          ? `${s.signer}'s key or role was revoked by governance version ${inForce} before this event was committed`
          : `signed under governance version ${s.governance}, but version ${inForce} was in force when it was ` +
              `committed`,
      );
    }
  }
  return { violations, signer: { name: s.signer, key: s.key, governance: s.governance } };
}

export interface KillSwitchTimeline {
  /** State after each version of the kill-switch stream (index = version). */
  engagedAt: boolean[];
  /** Commit point of each version (index = version; 0 unused). */
  points: (CommitPoint | undefined)[];
}

/** The kill-switch stream's checks (signatures, roles, its machine) and its timeline for lock evidence. */
export function checkKillSwitchStream(
  events: (GovernanceStored & { streamId: string })[],
  gov: GovernanceState,
  crypto: Crypto,
): { violations: TrustViolation[]; timeline: KillSwitchTimeline } {
  const violations: TrustViolation[] = [];
  const timeline: KillSwitchTimeline = { engagedAt: [false], points: [undefined] };
  let engaged = false;
  for (const e of events) {
    violations.push(...checkEventTrust(e, gov, crypto).violations);
    const parsed = KillSwitchEvent.safeParse({ type: e.type, data: e.data });
    const flag = (message: string) =>
      violations.push({
        streamId: e.streamId,
        version: e.version,
        ...(e.eventId ? { eventId: e.eventId } : {}),
        type: e.type,
        rule: 'killswitch',
        message,
      });
    if (!parsed.success) flag(`not a kill-switch event`);
    else if (parsed.data.type === 'KillSwitchEngaged' ? engaged : !engaged)
      flag(`${e.type} while the kill-switch is already ${engaged ? 'engaged' : 'released'}`);
    else engaged = parsed.data.type === 'KillSwitchEngaged';
    timeline.engagedAt[e.version] = engaged;
    timeline.points[e.version] = point(e);
  }
  return { violations, timeline };
}

const cmp = (a: CommitPoint, b: CommitPoint) => {
  const t = BigInt(a.transactionId) - BigInt(b.transactionId);
  return t !== 0n
    ? t < 0n
      ? -1
      : 1
    : BigInt(a.globalPosition) < BigInt(b.globalPosition)
      ? -1
      : BigInt(a.globalPosition) > BigInt(b.globalPosition)
        ? 1
        : 0;
};

/** Whether the kill-switch was engaged just before commit point `p`. */
function engagedBefore(t: KillSwitchTimeline, p: CommitPoint): boolean {
  let engaged = false;
  for (let v = 1; v < t.points.length; v++) {
    const q = t.points[v];
    if (q && cmp(q, p) < 0) engaged = t.engagedAt[v] ?? engaged;
  }
  return engaged;
}

/** The trust checks of one cut stream (in version order). */
export function checkCutTrust(
  events: (GovernanceStored & { streamId: string })[],
  gov: GovernanceState,
  crypto: Crypto,
  killSwitch: KillSwitchTimeline,
): TrustViolation[] {
  const out: TrustViolation[] = [];
  const seen: CutSeen = { approvalKeys: new Map<string, string>() };
  for (const e of events) {
    const at = { streamId: e.streamId, version: e.version, ...(e.eventId ? { eventId: e.eventId } : {}), type: e.type };
    const flag: Flag = (rule, message) => out.push({ ...at, rule, message });
    const { violations, signer } = checkEventTrust(e, gov, crypto);
    out.push(...violations);
    const parsed = parseStored(e);
    if (!parsed.success || !signer) continue;
    const ev = parsed.data;
    const registry = versionOf(gov, signer.governance)!.registry;
    switch (ev.type) {
      case 'CutPlanned':
        checkPlanned(ev.data, signer, registry, seen, flag);
        break;
      case 'ApprovalGranted':
        checkApproval(ev.data, signer, registry, seen, crypto, flag);
        break;
      case 'LiveRunStarted':
      case 'RunResumed':
      case 'RunContinued':
      case 'RevertStarted':
        checkRunStart(ev, point(e), { gov, registry, signer, seen, crypto, killSwitch }, flag);
        break;
      default:
        break;
    }
  }
  return out;
}

type Flag = (rule: TrustRule, message: string) => void;
type Signer = { name: string; key: string; governance: number };
type RegistryOf = NonNullable<ReturnType<typeof versionOf>>['registry'];
/** What the checks of a cut stream remember from earlier events: the author, the cut, each approver's key. */
interface CutSeen {
  author?: { name: string; key: string };
  cut?: { cutId: string; planHash: string };
  approvalKeys: Map<string, string>;
}

/** The plan: signed by the author it names, under the policy of the governance it was signed under. */
function checkPlanned(
  data: EventOf<'CutPlanned'>['data'],
  signer: Signer,
  registry: RegistryOf,
  seen: CutSeen,
  flag: Flag,
): void {
  seen.author = { name: signer.name, key: signer.key };
  seen.cut = { cutId: data.cutId, planHash: data.planHash };
  if (data.author !== signer.name)
    flag('role', `the plan names author ${data.author} but was signed by ${signer.name}`);
  if (canonicalJson(data.policy) !== canonicalJson(registry.policy))
    flag('policy', `the cut records a policy that is not governance version ${signer.governance}'s`);
}

/**
 * An approval: by the member who signed it, with that member's enrolled key and roles, under the
 * governance it names, with a valid signature; never the author's key or another approver's key;
 * bound to this cut and plan.
 */
function checkApproval(
  data: EventOf<'ApprovalGranted'>['data'],
  signer: Signer,
  registry: RegistryOf,
  seen: CutSeen,
  crypto: Crypto,
  flag: Flag,
): void {
  const a = data as ApprovalRecord & { governanceVersion?: number };
  const member = memberOf(registry, a.approver);
  if (a.approver !== signer.name) flag('approval', `approval names ${a.approver} but was signed by ${signer.name}`);
  else if (!member || member.publicKey !== a.publicKey)
    flag('approval', `approval by ${a.approver} carries a key that is not the one enrolled for ${a.approver}`);
  else if (a.roles.some((r) => !member.roles.includes(r)))
    flag(
      'approval',
      `approval by ${a.approver} claims roles ${a.roles.join(', ')}; enrolled: ${member.roles.join(', ')}`,
    );
  else if (a.governanceVersion !== signer.governance)
    flag(
      'approval',
      `approval by ${a.approver} names governance version ${String(a.governanceVersion)}, signed under ` +
        `${signer.governance}`,
    );
  else if (!crypto.verify(member.publicKey, Buffer.from(approvalPayload(a)), a.signature))
    flag('approval', `approval signature by ${a.approver} does not verify`);
  if (seen.author && signer.key === seen.author.key)
    flag('four-eyes', `approval signed with the author's key (${signer.key})`);
  const sameKey = [...seen.approvalKeys].find(([name, key]) => key === signer.key && name !== a.approver);
  if (sameKey)
    flag('four-eyes', `approval by ${a.approver} signed with the key that already approved as ${sameKey[0]}`);
  seen.approvalKeys.set(a.approver, signer.key);
  if (seen.cut && (a.cutId !== seen.cut.cutId || a.planHash !== seen.cut.planHash))
    flag('approval', 'approval bound to another cut or plan');
}

/**
 * A run's start (live, resume, continue, revert): a forced revert is an admin's; the kill-switch
 * evidence agrees with the kill-switch stream at commit time; every approval counted was still an
 * enrolled approver's, with the key that approved.
 */
function checkRunStart(
  ev: EventOf<'LiveRunStarted' | 'RunResumed' | 'RunContinued' | 'RevertStarted'>,
  p: CommitPoint | undefined,
  ctx: {
    gov: GovernanceState;
    registry: RegistryOf;
    signer: Signer;
    seen: CutSeen;
    crypto: Crypto;
    killSwitch: KillSwitchTimeline;
  },
  flag: Flag,
): void {
  const { gov, registry, signer, crypto, killSwitch } = ctx;
  const approvalKeys = ctx.seen.approvalKeys;
  const ev2 = ev.data.evidence;
  if (ev.type === 'RevertStarted' && ev.data.force && !memberOf(registry, signer.name)?.roles.includes('admin')) {
    flag('role', `a forced revert signed by ${signer.name}, who is not an admin`);
  }
  if (ev2.locks.killSwitch) {
    const v = ev2.locks.killSwitchVersion;
    if (v >= killSwitch.engagedAt.length)
      flag(
        'lock-evidence',
        `evidence names kill-switch version ${v}; the kill-switch stream has ${killSwitch.engagedAt.length - 1} ` +
          `event(s)`,
      );
    else if (killSwitch.engagedAt[v])
      flag('lock-evidence', `evidence says the kill-switch was released at version ${v}; it was engaged`);
    else if (p && engagedBefore(killSwitch, p))
      flag('lock-evidence', `the kill-switch was engaged when ${ev.type} was committed`);
  }
  if (ev.type !== 'RevertStarted' && 'approvals' in ev2) {
    const reg = versionOf(gov, p ? versionInForceAt(gov, p) : signer.governance)?.registry;
    for (const name of ev2.approvals) {
      const m = memberOf(reg, name);
      if (
        !m ||
        !m.roles.includes('approver') ||
        (approvalKeys.has(name) && crypto.fingerprint(m.publicKey) !== approvalKeys.get(name))
      ) {
        flag('revoked', `approval by ${name} counted, but ${name} was no longer an enrolled approver with that key`);
      }
    }
  }
}

/** Whether a stream id is one cutter writes. */
export function knownStream(streamId: string): boolean {
  return (
    streamId === GOVERNANCE_STREAM ||
    streamId === KILL_SWITCH_STREAM ||
    streamId === CHECKPOINT_STREAM ||
    isCutStream(streamId)
  );
}
