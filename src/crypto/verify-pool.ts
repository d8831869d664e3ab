/**
 * Signature checks spread over worker threads, for replay (docs/BENCHMARKS.md, "verifying replay").
 *
 * Replay's trust checks (src/domain/trust.ts) call an injected `Crypto.verify` once per event, in
 * log order, on one core. Verification is a pure function of (key, message, signature), so it can
 * be done earlier and elsewhere without changing any answer: `prefetchedCrypto` works out, for a
 * batch of events, exactly the checks `checkSignature` will ask for (same registry lookup, same
 * signed message), runs the Ed25519 ones on `threads` workers, and returns a `Crypto` that answers
 * from those verdicts. An answer is used only for the same key, the same signature and the same
 * message bytes; anything else (an SSH key, a request it did not foresee) is verified on
 * the spot by the ordinary path. The fold, its order and its violations are untouched, so the
 * verdict is the same whatever the thread count (test/int/verify-pool.int.test.ts).
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { memberOf } from '../../events/governance.js';
import { storedSignedMessage } from '../../events/signature.js';
import type { Crypto, GovernanceState, GovernanceStored } from '../domain/governance.js';
import { rawKeyOf, schemeOf } from './signatures.js';

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

/** A fixed set of verification workers; `close()` ends them. */
export class VerifyPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (out: Uint8Array) => void; reject: (err: Error) => void }>();
  private next = 0;

  constructor(readonly threads: number) {
    for (let i = 0; i < threads; i++) {
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
      this.workers.push(w);
    }
  }

  /** Verdicts for `jobs`, in order: each worker takes one contiguous slice. */
  async verify(jobs: Job[]): Promise<boolean[]> {
    const per = Math.ceil(jobs.length / this.workers.length);
    const slices = this.workers
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

/** Ed25519 checks per dispatch to the workers: small enough that workers start while the main thread prepares the rest. */
const CHUNK = 256;

/**
 * A `Crypto` whose `eventVerdict` answers, for each event object of `events`, the check
 * `checkSignature` will make of that event's own signature — computed up front on `pool` (or inline
 * when the batch is small or there is no pool) — and falls back to `base` for anything else. The
 * signed message is built here, once, from the event itself; the verdict is given back only for the
 * same event object with the same key, signer, fingerprint, governance version and signature (the
 * fold's own parse of the envelope), so it is the verdict the fold would have computed. The events
 * must not be changed between this call and their check (replay reads them, then checks them).
 */
export async function prefetchedCrypto(
  events: (GovernanceStored & { streamId: string })[],
  governance: GovernanceState,
  base: Crypto,
  pool: VerifyPool | undefined,
): Promise<Crypto> {
  if (!pool) return base;
  const foreseen = new Map<object, Foreseen>();
  const rawKeys = new Map<string, string>();
  const chunks: Promise<void>[] = [];
  let chunk: Foreseen[] = [];
  const dispatch = () => {
    const part = chunk;
    chunk = [];
    const jobs = part.map((f) => ({ key: rawKeys.get(f.publicKey)!, message: f.message, sig: f.sig }));
    chunks.push(pool.verify(jobs).then((oks) => part.forEach((f, i) => (f.ok = oks[i]!))));
  };
  for (const e of events) {
    const f = foresee(e, governance, base, rawKeys);
    if (!f) continue;
    foreseen.set(e, f);
    chunk.push(f);
    if (chunk.length === CHUNK) dispatch(); // CHUNK > MIN_PARALLEL: worth a worker
  }
  if (foreseen.size < MIN_PARALLEL) return base;
  if (chunk.length) dispatch();
  await Promise.all(chunks);
  return {
    fingerprint: base.fingerprint,
    verify: base.verify,
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
 * `batches` with the `Crypto` of each (see `prefetchedCrypto`), the checks of the next batch handed
 * to the workers before the current one is yielded: the workers verify batch k + 1 while the caller
 * checks batch k (and reads batch k + 2). Order and content of the batches are unchanged.
 */
export async function* verifiedAhead<T>(
  batches: AsyncIterable<T> | Iterable<T>,
  eventsOf: (batch: T) => (GovernanceStored & { streamId: string })[],
  governance: GovernanceState,
  base: Crypto,
  pool: VerifyPool | undefined,
): AsyncGenerator<{ batch: T; crypto: Crypto }> {
  let pending: { batch: T; crypto: Promise<Crypto> } | undefined;
  for await (const batch of batches) {
    const next = { batch, crypto: prefetchedCrypto(eventsOf(batch), governance, base, pool) };
    next.crypto.catch(() => undefined); // awaited below; a failure surfaces there
    if (pending) yield { batch: pending.batch, crypto: await pending.crypto };
    pending = next;
  }
  if (pending) yield { batch: pending.batch, crypto: await pending.crypto };
}
