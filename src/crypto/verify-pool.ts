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
import { EventSignature, storedSignedMessage } from '../../events/signature.js';
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

/**
 * A `Crypto` that answers `verify` for `events` from verdicts computed up front on `pool` (or inline
 * when the batch is small or there is no pool), and falls back to `base` for anything else.
 */
export async function prefetchedCrypto(
  events: (GovernanceStored & { streamId: string })[],
  governance: GovernanceState,
  base: Crypto,
  pool: VerifyPool | undefined,
): Promise<Crypto> {
  const requests: { publicKey: string; message: Buffer; sig: string }[] = [];
  for (const e of events) {
    const parsed = EventSignature.safeParse(e.metadata?.signature);
    if (!parsed.success) continue;
    const s = parsed.data;
    const member = memberOf(governance.versions[s.governance - 1]?.registry, s.signer);
    if (!member || schemeOf(member.publicKey) !== 'ed25519' || base.fingerprint(member.publicKey) !== s.key) continue;
    const message = storedSignedMessage(e, s);
    requests.push({ publicKey: member.publicKey, message, sig: s.sig });
  }
  if (!pool || requests.length < MIN_PARALLEL) return base;
  const verdicts = await pool.verify(
    requests.map((r) => ({ key: rawKeyOf(r.publicKey)!.toString('base64url'), message: r.message, sig: r.sig })),
  );
  // Per batch only (about 4,096 events), so keeping the messages themselves costs little and
  // comparing bytes is cheaper than hashing them twice.
  const known = new Map<string, { publicKey: string; message: Buffer; ok: boolean }[]>();
  requests.forEach((r, i) => {
    const list = known.get(r.sig) ?? [];
    list.push({ publicKey: r.publicKey, message: r.message, ok: verdicts[i]! });
    known.set(r.sig, list);
  });
  return {
    fingerprint: base.fingerprint,
    verify(publicKey, message, sig) {
      const list = known.get(sig);
      if (list) {
        const hit = list.find((k) => k.publicKey === publicKey && k.message.equals(message));
        if (hit) return hit.ok;
      }
      return base.verify(publicKey, message, sig);
    },
  };
}
