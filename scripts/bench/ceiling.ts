/**
 * The machine's Ed25519 verification ceiling, measured in the run that compares against it: one
 * core's bare `crypto.verify` rate × cores (the definition), and the same bare verification
 * run on every core at the same moment (what the machine gives when all cores verify).
 */
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** A worker that waits for 'go', runs `n` bare `crypto.verify`s of one signature and says when it is done. */
const BARE_VERIFIER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const key = createPublicKey({ key: workerData.key, format: 'jwk' });
const bytes = Buffer.from(workerData.bytes);
const sig = Buffer.from(workerData.sig);
for (let i = 0; i < 200; i++) verify(null, bytes, key, sig);
parentPort.postMessage('ready');
parentPort.once('message', () => {
  let ok = 0;
  for (let i = 0; i < workerData.n; i++) ok += verify(null, bytes, key, sig) ? 1 : 0;
  parentPort.postMessage(ok);
});`;

/**
 * The Ed25519 ceiling measured rather than multiplied: `threads` workers each run `n` bare
 * `crypto.verify`s at the same moment; verifications per second of wall time until the last ends.
 * On a machine whose cores share execution units (SMT) or clock down under load, this is lower than
 * one core's rate × threads.
 */
export async function concurrentVerifyCeiling(threads: number, pub: KeyObject, bytes: Buffer, sig: Buffer, n: number) {
  const workerData = { key: pub.export({ format: 'jwk' }), bytes, sig, n };
  const workers = Array.from({ length: threads }, () => new Worker(BARE_VERIFIER, { eval: true, workerData }));
  try {
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
    const t = performance.now();
    const done = workers.map((w) => new Promise<number>((resolve) => w.once('message', resolve)));
    for (const w of workers) w.postMessage('go');
    const oks = await Promise.all(done);
    if (oks.some((ok) => ok !== n)) throw new Error('bench: a bare verification failed');
    return (threads * n) / ((performance.now() - t) / 1000);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Both ceilings for `threads` cores, from `n` verifications per thread of a fresh key's signature. */
export async function ed25519Ceilings(threads: number, n: number): Promise<{ multiplied: number; allCores: number }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const bytes = Buffer.from('cutter bench: the Ed25519 ceiling'.repeat(8));
  const sig = sign(null, bytes, privateKey);
  for (let i = 0; i < 200; i++) verify(null, bytes, publicKey, sig);
  const t = performance.now();
  for (let i = 0; i < n; i++) verify(null, bytes, publicKey, sig);
  const oneCore = n / ((performance.now() - t) / 1000);
  return { multiplied: oneCore * threads, allCores: await concurrentVerifyCeiling(threads, publicKey, bytes, sig, n) };
}
