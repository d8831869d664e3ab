/**
 * Approvals, pure: the signed payload, Ed25519 verification (node:crypto, synchronous, no I/O), and
 * whether a set of approvals satisfies a policy at a given instant. Shared by the machine's guards
 * (which re-check recorded evidence on replay) and by src/crypto (which signs the same payload).
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../events/canonical.js';
import type { Policy } from '../events/common.js';

export interface ApprovalRecord {
  cutId: string;
  planHash: string;
  approver: string;
  roles: string[];
  decision: 'approve';
  at: string;
  signature: string;
  publicKey: string;
  /** The governance version the approver was enrolled under (absent on approvals before governance). */
  governanceVersion?: number;
}

/**
 * The exact bytes an approver signs: the cut, the plan hash, who approves with which roles under
 * which governance version, and when. (Approvals recorded before governance signed only the first
 * four fields; they still verify, and replay flags them as unsigned by an enrolled key.)
 */
export function approvalPayload(p: {
  cutId: string;
  planHash: string;
  decision: 'approve';
  at: string;
  approver?: string;
  roles?: string[];
  governanceVersion?: number;
}): string {
  if (p.governanceVersion === undefined)
    return canonicalJson({ cutId: p.cutId, planHash: p.planHash, decision: p.decision, at: p.at });
  return canonicalJson({
    cutId: p.cutId,
    planHash: p.planHash,
    decision: p.decision,
    at: p.at,
    approver: p.approver,
    roles: p.roles,
    governanceVersion: p.governanceVersion,
  });
}

/** Raw 32-byte Ed25519 public key from `ed25519:<base64>`, or undefined when malformed. */
export function rawPublicKey(text: string): Buffer | undefined {
  if (!text.startsWith('ed25519:')) return undefined;
  const raw = Buffer.from(text.slice('ed25519:'.length), 'base64');
  return raw.length === 32 ? raw : undefined;
}

/**
 * Verification results, memoised: the machine verifies a new approval in its guards and records
 * the verdict in context when the approval is folded (so later guards read it instead of
 * verifying again), and the decider and runner re-check the same records. The answer is a pure
 * function of the inputs. Small and cleared when full, so it only spans the replay of a few
 * streams. The key is the exact inputs (JSON array: unambiguous), not the canonical payload.
 */
const verified = new Map<string, boolean>();

/** Parsed public keys by their `ed25519:<base64>` text: approvers are few, keys are reused. */
const publicKeys = new Map<string, KeyObject | null>();

function publicKeyObject(text: string): KeyObject | null {
  let key = publicKeys.get(text);
  if (key !== undefined) return key;
  const raw = rawPublicKey(text);
  try {
    key = raw
      ? createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' })
      : null;
  } catch {
    key = null;
  }
  if (publicKeys.size >= 1024) publicKeys.clear();
  publicKeys.set(text, key);
  return key;
}

type Signed = Pick<ApprovalRecord, 'cutId' | 'planHash' | 'decision' | 'at' | 'signature' | 'publicKey'> &
  Partial<Pick<ApprovalRecord, 'approver' | 'roles' | 'governanceVersion'>>;

/**
 * True when `signature` (base64) is a valid Ed25519 signature by `publicKey` over the payload. Pure.
 * An OpenSSH key's SSHSIG is verified by the trust checks (src/domain/trust.ts), which also bind
 * the key to the governance registry; here it is taken as given.
 */
export function verifyApprovalSignature(a: Signed): boolean {
  if (!a.publicKey.startsWith('ed25519:')) return true;
  const key = approvalVerdictKey(a);
  const lentVerdict = lent?.get(key);
  if (lentVerdict !== undefined) return lentVerdict;
  const known = verified.get(key);
  if (known !== undefined) return known;
  const ok = verifyUncached(a);
  if (verified.size >= 256) verified.clear();
  verified.set(key, ok);
  return ok;
}

/** The memo's key for an approval's signature check: its exact inputs, as a JSON array. */
export function approvalVerdictKey(a: Signed): string {
  return JSON.stringify([
    a.publicKey,
    a.signature,
    a.cutId,
    a.planHash,
    a.decision,
    a.at,
    a.approver,
    a.roles,
    a.governanceVersion,
  ]);
}

/** Verdicts lent by `withApprovalVerdicts` for the duration of its (synchronous) callback. */
let lent: { get(key: string): boolean | undefined } | undefined;

/**
 * Runs `fn` with `verdicts` (by `approvalVerdictKey`) answering `verifyApprovalSignature` before the
 * memo — for callers that verified a batch of approvals ahead of a fold, e.g. on worker threads
 * (src/projections/rebuild.ts). Each verdict must be the Ed25519 check of `approvalPayload` of the
 * fields its key names, by the raw key of its `publicKey`, over its `signature` (false when the key
 * is malformed). A key not in `verdicts` is verified here as usual: a missing verdict costs time only.
 */
export function withApprovalVerdicts<T>(verdicts: { get(key: string): boolean | undefined }, fn: () => T): T {
  const outer = lent;
  lent = verdicts;
  try {
    return fn();
  } finally {
    lent = outer;
  }
}

function verifyUncached(a: Signed): boolean {
  const key = publicKeyObject(a.publicKey);
  if (!key) return false;
  try {
    return verify(null, Buffer.from(approvalPayload(a)), key, Buffer.from(a.signature, 'base64'));
  } catch {
    return false;
  }
}

export interface ApprovalVerdict {
  ok: boolean;
  counted: string[];
  reasons: string[];
}

/**
 * Whether `approvals` satisfy `policy` for `planHash` at instant `at` (ISO): distinct approvers,
 * never the author, valid signatures, bound to the plan hash, not expired, roles covered.
 * `at` undefined skips the expiry check (used when the cut becomes approved). `signatures[i]`, when
 * given, is the already-established verdict on `approvals[i]`'s signature (the machine records it
 * when it folds the approval); otherwise the signature is verified here.
 */
export function evaluateApprovals(
  approvals: ApprovalRecord[],
  ctx: { cutId: string; planHash: string; author: string; authorKey?: string | undefined; policy: Policy },
  at?: string,
  signatures?: readonly boolean[],
): ApprovalVerdict {
  const counted: string[] = [];
  const reasons: string[] = [];
  const roles = new Set<string>();
  const keys = new Set<string>();
  for (let i = 0; i < approvals.length; i++) {
    const a = approvals[i]!;
    if (a.approver === ctx.author) {
      reasons.push(`approval by ${a.approver}: the author cannot approve (four-eyes)`);
      continue;
    }
    if (ctx.authorKey !== undefined && a.publicKey === ctx.authorKey) {
      reasons.push(`approval by ${a.approver}: signed with the author's key (four-eyes counts keys)`);
      continue;
    }
    if (a.planHash !== ctx.planHash || a.cutId !== ctx.cutId) {
      reasons.push(`approval by ${a.approver}: bound to another plan`);
      continue;
    }
    if (!(signatures?.[i] ?? verifyApprovalSignature(a))) {
      reasons.push(`approval by ${a.approver}: signature does not verify`);
      continue;
    }
    if (at !== undefined) {
      const age = (Date.parse(at) - Date.parse(a.at)) / 1000;
      if (age < 0) {
        reasons.push(`approval by ${a.approver}: dated after ${at}`);
        continue;
      }
      if (age > ctx.policy.approvalTtlSeconds) {
        reasons.push(`approval by ${a.approver}: expired (older than ${ctx.policy.approvalTtlSeconds}s)`);
        continue;
      }
    }
    if (counted.includes(a.approver) || keys.has(a.publicKey)) continue;
    counted.push(a.approver);
    keys.add(a.publicKey);
    a.roles.forEach((r) => roles.add(r));
  }
  if (counted.length < ctx.policy.requiredApprovals)
    reasons.push(`approvals: ${counted.length} of ${ctx.policy.requiredApprovals} required`);
  const needRoles = ctx.policy.roles;
  if (needRoles && needRoles.length > 0 && !needRoles.some((r) => roles.has(r)))
    reasons.push(`approvals: none by an approver with role ${needRoles.join(' or ')}`);
  const ok =
    counted.length >= ctx.policy.requiredApprovals &&
    (!needRoles || needRoles.length === 0 || needRoles.some((r) => roles.has(r)));
  return { ok, counted, reasons: ok ? [] : reasons };
}
