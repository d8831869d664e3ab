/**
 * Signature checks spread over worker threads, for replay (docs/BENCHMARKS.md, "verifying replay").
 *
 * Replay's trust checks (src/domain/trust.ts) and the machine's guards verify Ed25519 signatures
 * one at a time, in log order, on one core. Verification is a pure function of (key, message,
 * signature), so it can be done earlier and elsewhere without changing any answer:
 * `prefetchChecks` works out, for a batch of events, exactly the checks the fold will make (each
 * event's own signature: same registry lookup, same signed message; each approval's signature:
 * same payload), runs them on `threads` workers, and hands back the verdicts, each given only for
 * the same inputs; anything else (an SSH key, a request it did not foresee) is verified on the spot
 * by the ordinary path. `verifiedAhead` keeps the workers one batch ahead of the checks. The fold,
 * its order and its violations are untouched, so the verdict is the same whatever the thread count
 * (test/int/verify-pool.int.test.ts).
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { memberOf } from '../../events/governance.js';
import { storedSignedMessage } from '../../events/signature.js';
import type { Crypto, GovernanceState, GovernanceStored } from '../domain/governance.js';
import { rawKeyOf, schemeOf } from './signatures.js';
import { approvalPayload, approvalVerdictKey, rawPublicKey } from '../../machines/approvals.js';

/** Below this many Ed25519 checks a batch is verified inline: a worker round trip costs more. */
const MIN_PARALLEL = 64;

/** The threads replay verifies on by default: every core (CUTTER_VERIFY_THREADS overrides). */
export function defaultVerifyThreads(): number {
  const env = Number(process.env.CUTTER_VERIFY_THREADS);
  if (Number.isInteger(env) && env >= 1) return env;
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

// The worker: Ed25519 verification of raw 32-byte keys, nothing else. Plain CommonJS evaluated from
// a string, so it runs the same from dist/src and from the CLI bundle.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const keys = new Map();
const keyOf = (x) => {
  let k = keys.get(x);
  if (k === undefined) {
    try { k = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }); } catch { k = null; }
    keys.set(x, k);
  }
  return k;
};
parentPort.on('message', ({ id, keys: ks, bytes, ends, sigs }) => {
  const out = new Uint8Array(ks.length);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start = 0;
  for (let i = 0; i < ks.length; i++) {
    const key = keyOf(ks[i]);
    const msg = buf.subarray(start, ends[i]);
    start = ends[i];
    try { out[i] = key && verify(null, msg, key, Buffer.from(sigs[i], 'base64')) ? 1 : 0; } catch { out[i] = 0; }
  }
  parentPort.postMessage({ id, out }, [out.buffer]);
});
`;

interface Job {
  /** base64url raw Ed25519 key (JWK `x`). */
  key: string;
  message: Buffer;
  sig: string;
}

/**
 * A fixed set of verification workers; `close()` ends them. They start on the first `verify`: a
 * replay whose batches are all below MIN_PARALLEL (one cut's few events) never pays for a worker's
 * isolate (about 15 MB of resident memory each, docs/BENCHMARKS.md "peak RSS").
 */
export class VerifyPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (out: Uint8Array) => void; reject: (err: Error) => void }>();
  private next = 0;

  constructor(readonly threads: number) {}

  /** Workers started so far: 0 until the first `verify`, then `threads`. */
  get started(): number {
    return this.workers.length;
  }

  private running(): Worker[] {
    if (this.workers.length === 0) for (let i = 0; i < this.threads; i++) this.workers.push(this.worker());
    return this.workers;
  }

  private worker(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.on('message', ({ id, out }: { id: number; out: Uint8Array }) => {
      this.pending.get(id)?.resolve(out);
      this.pending.delete(id);
      if (this.pending.size === 0) for (const x of this.workers) x.unref();
    });
    w.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
    w.unref();
    return w;
  }

  /** Verdicts for `jobs`, in order: each worker takes one contiguous slice. */
  async verify(jobs: Job[]): Promise<boolean[]> {
    const workers = this.running();
    const per = Math.ceil(jobs.length / workers.length);
    const slices = workers
      .map((w, i) => ({ w, part: jobs.slice(i * per, (i + 1) * per) }))
      .filter((s) => s.part.length);
    const results = await Promise.all(slices.map(({ w, part }) => this.run(w, part)));
    return results.flatMap((out) => [...out].map((b) => b === 1));
  }

  private run(w: Worker, part: Job[]): Promise<Uint8Array> {
    const id = this.next++;
    const bytes = Buffer.concat(part.map((j) => j.message));
    const ends = new Uint32Array(part.length);
    let end = 0;
    part.forEach((j, i) => (ends[i] = end += j.message.length));
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.ref(); // a pending answer keeps the process alive; idle workers do not
      w.postMessage({ id, keys: part.map((j) => j.key), bytes, ends, sigs: part.map((j) => j.sig) });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** An event whose own signature the prefetch foresaw: the exact inputs of its check, and the verdict. */
interface Foreseen {
  publicKey: string;
  signer: string;
  key: string;
  governance: number;
  sig: string;
  message: Buffer;
  ok?: boolean;
}

/** An approval's own signature, as the machine's guard checks it (`verifyApprovalSignature`). */
export interface ApprovalJob {
  /** The machine's memo key of the check (`approvalVerdictKey`). */
  verdictKey: string;
  /** The approval's `publicKey` text. */
  publicKey: string;
  /** base64url raw Ed25519 key (JWK `x`). */
  key: string;
  message: Buffer;
  sig: string;
  ok?: boolean;
}

/** Verdicts on approvals' signatures by the machine's memo key (`withApprovalVerdicts`). */
export type ApprovalVerdicts = { get(verdictKey: string): boolean | undefined };

/** Ed25519 checks per dispatch to the workers: small enough that workers start while the main thread prepares the rest. */
const CHUNK = 256;

/**
 * `prefetchChecks(…).crypto`: a `Crypto` answering the checks of `events` computed up front.
 */
export async function prefetchedCrypto(
  events: (GovernanceStored & { streamId: string })[],
  governance: GovernanceState,
  base: Crypto,
  pool: VerifyPool | undefined,
): Promise<Crypto> {
  return (await prefetchChecks(events, governance, base, pool)).crypto;
}

/**
 * The Ed25519 checks replay will make of `events`, computed up front on `pool` (or none when the
 * batch is small or there is no pool: then `crypto` is `base` and `approvals` answers nothing).
 *
 * - `crypto.eventVerdict` answers, for each event object of `events`, the check `checkSignature`
 *   makes of that event's own signature. The signed message is built here, once, from the event
 *   itself; the verdict is given back only for the same event object with the same key, signer,
 *   fingerprint, governance version and signature (the fold's own parse of the envelope), so it is
 *   the verdict the fold would have computed. The events must not be changed between this call and
 *   their check (replay reads them, then checks them).
 * - `crypto.verify` answers the trust checks' verification of an approval's signature
 *   (`checkApproval`) for the same key text, signature and payload bytes; anything else goes to
 *   `base`.
 * - `approvals` answers the machine's guard (`withApprovalVerdicts`) by its own memo key.
 */
export async function prefetchChecks(
  events: (GovernanceStored & { streamId: string })[],
  governance: GovernanceState,
  base: Crypto,
  pool: VerifyPool | undefined,
): Promise<{ crypto: Crypto; approvals: ApprovalVerdicts }> {
  const none = { crypto: base, approvals: new Map<string, boolean>() };
  if (!pool) return none;
  const foreseen = new Map<object, Foreseen>();
  const rawKeys = new Map<string, string>();
  const approvals = approvalJobs(events);
  const dispatched: Promise<void>[] = [];
  let chunk: { key: string; message: Buffer; sig: string; settle: (ok: boolean) => void }[] = [];
  const dispatch = () => {
    const part = chunk;
    chunk = [];
    dispatched.push(pool.verify(part).then((oks) => part.forEach((job, i) => job.settle(oks[i]!))));
  };
  for (const a of approvals) chunk.push({ ...a, settle: (ok) => (a.ok = ok) });
  for (const e of events) {
    const f = foresee(e, governance, base, rawKeys);
    if (!f) continue;
    foreseen.set(e, f);
    chunk.push({ key: rawKeys.get(f.publicKey)!, message: f.message, sig: f.sig, settle: (ok) => (f.ok = ok) });
    if (chunk.length >= CHUNK) dispatch(); // CHUNK > MIN_PARALLEL: worth a worker
  }
  if (foreseen.size + approvals.length < MIN_PARALLEL) return none;
  if (chunk.length) dispatch();
  await Promise.all(dispatched);
  return {
    crypto: answeringCrypto(base, foreseen, approvals),
    approvals: new Map(approvals.map((a) => [a.verdictKey, a.ok!])),
  };
}

/** The `Crypto` of `prefetchChecks`: answers from the verdicts, `base` for anything else. */
function answeringCrypto(base: Crypto, foreseen: Map<object, Foreseen>, approvals: ApprovalJob[]): Crypto {
  const bySig = new Map<string, ApprovalJob[]>();
  for (const a of approvals) bySig.set(a.sig, [...(bySig.get(a.sig) ?? []), a]);
  return {
    fingerprint: base.fingerprint,
    verify(publicKey, message, sig) {
      // `base.verify` reads the key with `rawKeyOf`, stricter than the machine's `rawPublicKey`:
      // a verdict is given back only for a key both read alike.
      const hit = bySig.get(sig)?.find((a) => a.publicKey === publicKey && a.message.equals(message));
      if (hit && rawKeyOf(publicKey)?.toString('base64url') === hit.key) return hit.ok!;
      return base.verify(publicKey, message, sig);
    },
    eventVerdict(e, publicKey, s) {
      const f = foreseen.get(e);
      const same =
        f &&
        f.publicKey === publicKey &&
        f.sig === s.sig &&
        f.signer === s.signer &&
        f.key === s.key &&
        f.governance === s.governance;
      return same ? f.ok : undefined;
    },
  };
}

/**
 * The Ed25519 checks the machine will ask for of `events`' approvals: one per distinct approval
 * whose stored fields have exactly the types the event schema gives them (anything else is left to
 * the fold, which parses and verifies it itself). The verdict key is the machine's own memo key, so
 * a verdict is used only for an approval with the same key, signature, payload fields and
 * governance version.
 */
export function approvalJobs(events: { type: string; data: unknown }[]): ApprovalJob[] {
  const jobs = new Map<string, ApprovalJob>();
  const str = (v: unknown): v is string => typeof v === 'string';
  for (const r of events) {
    if (r.type !== 'ApprovalGranted') continue;
    const d = r.data as Record<string, unknown> | null;
    if (!d || typeof d !== 'object') continue;
    const { cutId, planHash, decision, at, signature, publicKey, approver, roles, governanceVersion } = d;
    if (!str(cutId) || !str(planHash) || decision !== 'approve' || !str(at) || !str(signature) || !str(publicKey))
      continue;
    if (approver !== undefined && !str(approver)) continue;
    if (roles !== undefined && !(Array.isArray(roles) && roles.every(str))) continue;
    if (governanceVersion !== undefined && typeof governanceVersion !== 'number') continue;
    const raw = rawPublicKey(publicKey);
    if (!raw) continue;
    const a = { cutId, planHash, decision, at, signature, publicKey, approver, roles, governanceVersion } as const;
    const verdictKey = approvalVerdictKey(a);
    if (jobs.has(verdictKey)) continue;
    jobs.set(verdictKey, {
      verdictKey,
      publicKey,
      key: raw.toString('base64url'),
      message: Buffer.from(approvalPayload(a)),
      sig: signature,
    });
  }
  return [...jobs.values()];
}

/**
 * The Ed25519 check `checkSignature` will make of `e`'s own signature, if it will make one: the
 * member the envelope names at the governance version it names, enrolled with an `ed25519:` key
 * whose fingerprint the envelope records. Anything else (no or malformed envelope, an SSH key, an
 * unknown signer) returns undefined and is left to the fold. A plain shape test instead of the
 * envelope's schema: the fold parses it, and a verdict is used only if its inputs equal that parse.
 */
function foresee(
  e: GovernanceStored & { streamId: string },
  governance: GovernanceState,
  base: Crypto,
  rawKeys: Map<string, string>,
): Foreseen | undefined {
  const s = e.metadata?.signature as Record<string, unknown> | undefined;
  if (!s || typeof s !== 'object') return undefined;
  const { signer, key, governance: version, sig } = s;
  if (typeof signer !== 'string' || typeof key !== 'string' || typeof sig !== 'string') return undefined;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) return undefined;
  const member = memberOf(governance.versions[version - 1]?.registry, signer);
  if (!member || schemeOf(member.publicKey) !== 'ed25519' || base.fingerprint(member.publicKey) !== key)
    return undefined;
  if (!rawKeys.has(member.publicKey)) {
    const raw = rawKeyOf(member.publicKey);
    if (!raw) return undefined;
    rawKeys.set(member.publicKey, raw.toString('base64url'));
  }
  const message = storedSignedMessage(e, { signer, key, governance: version });
  return { publicKey: member.publicKey, signer, key, governance: version, sig, message };
}

/**
 * `batches` with the checks of each prefetched (see `prefetchChecks`), the next batch's handed to
 * the workers before the current one is yielded: the workers verify batch k + 1 while the caller
 * checks batch k (and reads batch k + 2). Order and content of the batches are unchanged.
 */
export async function* verifiedAhead<T>(
  batches: AsyncIterable<T> | Iterable<T>,
  eventsOf: (batch: T) => (GovernanceStored & { streamId: string })[],
  governance: GovernanceState,
  base: Crypto,
  pool: VerifyPool | undefined,
): AsyncGenerator<{ batch: T; crypto: Crypto; approvals: ApprovalVerdicts }> {
  let pending: { batch: T; checks: ReturnType<typeof prefetchChecks> } | undefined;
  for await (const batch of batches) {
    const next = { batch, checks: prefetchChecks(eventsOf(batch), governance, base, pool) };
    next.checks.catch(() => undefined); // awaited below; a failure surfaces there
    if (pending) yield { batch: pending.batch, ...(await pending.checks) };
    pending = next;
  }
  if (pending) yield { batch: pending.batch, ...(await pending.checks) };
}
