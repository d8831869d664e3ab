/**
 * Signing and verification costs of the trust model (DESIGN §7): signing an event (canonical JSON +
 * Ed25519) beside a bare `crypto.sign` of the same bytes; the trust check of a signed event
 * (signature, signer, role) beside a bare `crypto.verify`; SSHSIG verification in Node; and an
 * SSHSIG signature through `ssh-keygen -Y sign` (a process per event) beside Node's Ed25519 sign.
 */
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registryHash } from '../../events/governance.js';
import { signedMessage, storedSignedMessage } from '../../events/signature.js';
import { publicKeyText } from '../../src/crypto/approvals.js';
import { keyFingerprint, verifySignature } from '../../src/crypto/signatures.js';
import { signWithSshKeygen } from '../../src/crypto/sshsig.js';
import { foldGovernance } from '../../src/domain/governance.js';
import { checkEventTrust } from '../../src/domain/trust.js';
import { nodeCrypto } from '../../src/governance/authority.js';
import { concurrentVerifyCeiling } from './ceiling.js';
import { median, throughputRow, type BenchRow } from './measure.js';
import { defaultVerifyThreads, prefetchedCrypto, verifiedAhead, VerifyPool } from '../../src/crypto/verify-pool.js';

const perSecond = (n: number, fn: () => void): number => {
  const t = performance.now();
  for (let i = 0; i < n; i++) fn();
  return n / ((performance.now() - t) / 1000);
};

export async function benchSigning(opts: { quick: boolean }): Promise<BenchRow[]> {
  const n = opts.quick ? 2_000 : 20_000;
  const key = generateKeyPairSync('ed25519').privateKey;
  const pub = publicKeyText(key);
  const fp = keyFingerprint(pub);
  const data = {
    runId: 'live-1',
    planHash: 'a'.repeat(64),
    executor: 'postgres-table',
    at: new Date().toISOString(),
    inserted: 10,
    updated: 5,
    deleted: 1,
    digest: 'b'.repeat(64),
    receipt: 'c'.repeat(64),
  };
  const fields = (version: number) => ({
    streamId: 'cut-bench',
    version,
    eventId: randomUUID(),
    type: 'LegAWritten',
    schemaVersion: 1,
    data,
    signer: 'erin',
    key: fp,
    governance: 1,
  });
  const bytes = signedMessage(fields(1));
  /** `n` signed LegAWritten events, each at its own version (so each message differs). */
  const signedEvents = (n: number) =>
    Array.from({ length: n }, (_, i) => {
      const f = fields(i + 1);
      const sig = sign(null, signedMessage(f), key).toString('base64');
      return {
        streamId: f.streamId,
        version: f.version,
        eventId: f.eventId,
        type: f.type,
        data,
        metadata: {
          schemaVersion: 1,
          actor: 'erin',
          signature: { signer: 'erin', key: fp, governance: 1, scheme: 'ed25519' as const, sig },
        },
      };
    });
  const rows: BenchRow[] = [];

  const signEvent = perSecond(n, () => sign(null, signedMessage(fields(1)), key));
  const signFloor = perSecond(n, () => sign(null, bytes, key));
  rows.push(
    throughputRow(
      'sign an event (canonical JSON + Ed25519)',
      signEvent,
      signFloor,
      'events/s',
      'floor: crypto.sign of the same bytes',
    ),
  );

  const registry = {
    members: {
      erin: { publicKey: pub, roles: ['author', 'operator'] },
      root: { publicKey: pub.replace(/^ed25519:./, 'ed25519:A'), roles: ['admin'] },
    },
    policy: { requiredApprovals: 2, approvalTtlSeconds: 3600, requireDryRun: true, maxRows: 10 },
    admins: { threshold: 1 },
  };
  // A governance state with version 1 in force, built directly (the fold's own cost is not this row's).
  const gov = foldGovernance([], nodeCrypto);
  gov.versions.push({
    version: 1,
    registry: registry as never,
    registryHash: registryHash(registry as never),
    effectiveAt: undefined,
  });
  const events = signedEvents(200);
  let bad = 0;
  const check = perSecond(n, () => {
    const e = events[Math.floor(Math.random() * events.length)]!;
    bad += checkEventTrust(e, gov, nodeCrypto).violations.length;
  });
  if (bad) throw new Error(`bench: ${bad} trust violations in honest events`);
  const sigBytes = sign(null, bytes, key);
  const verifyFloor = perSecond(n, () => verify(null, bytes, key, sigBytes));
  rows.push(
    throughputRow(
      'trust check of a signed event (signature, signer, role)',
      check,
      verifyFloor,
      'events/s',
      'floor: bare crypto.verify, one core',
    ),
  );

  // Verifying replay on every core (src/crypto/verify-pool.ts): replay's path — batches of 4,096
  // events, each batch's checks on the worker pool while the previous batch's trust checks run on
  // the main thread. Ceiling: bare verify × cores. Three rounds, each taking turns with its floor
  // (the one-core bare verify) and with the pool verifying the same bytes bare; medians reported.
  rows.push(...(await benchParallelTrust(signedEvents(opts.quick ? 16_384 : 65_536), gov, key, bytes, n)));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutter-bench-ssh-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'k')]);
  } catch {
    return rows; // no ssh-keygen: the SSH rows are skipped (said in the output)
  }
  const sshPub = readFileSync(path.join(dir, 'k.pub'), 'utf8').trim();
  const armored = await signWithSshKeygen({ keyFile: path.join(dir, 'k'), message: bytes, namespace: 'cutter' });
  const sshVerify = perSecond(n, () => verifySignature(sshPub, bytes, armored));
  rows.push(
    throughputRow('SSHSIG verification in Node', sshVerify, verifyFloor, 'events/s', 'floor: bare crypto.verify'),
  );
  const spawns = opts.quick ? 20 : 100;
  const t = performance.now();
  for (let i = 0; i < spawns; i++)
    await signWithSshKeygen({ keyFile: path.join(dir, 'k'), message: bytes, namespace: 'cutter' });
  const sshSign = spawns / ((performance.now() - t) / 1000);
  rows.push(
    throughputRow(
      'SSHSIG signature via ssh-keygen -Y sign',
      sshSign,
      signFloor,
      'events/s',
      'floor: Node Ed25519 sign; a process per event',
    ),
  );
  return rows;
}

type SignedBenchEvent = Parameters<typeof checkEventTrust>[0];

/** CPU microseconds (user + system, every thread of the process) that `fn` takes. */
async function cpuMicros(fn: () => Promise<void> | void): Promise<number> {
  const before = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

/**
 * Replay's verifying path on `defaultVerifyThreads()` workers over `many` events, beside the
 * machine's Ed25519 ceiling (one core's bare verify × threads), both by wall clock and by CPU time
 * (events per CPU-second of all threads: what the path costs beyond Ed25519, whatever the load).
 */
async function benchParallelTrust(
  many: SignedBenchEvent[],
  gov: Parameters<typeof checkEventTrust>[1],
  key: KeyObject,
  bytes: Buffer,
  n: number,
): Promise<BenchRow[]> {
  const threads = defaultVerifyThreads();
  const sigBytes = sign(null, bytes, key);
  const pub = createPublicKey(key);
  const batches = Array.from({ length: Math.ceil(many.length / 4096) }, (_, i) => many.slice(i * 4096, (i + 1) * 4096));
  const pool = new VerifyPool(threads);
  const rounds = {
    floorWall: [] as number[],
    floorCpu: [] as number[],
    allCores: [] as number[],
    wall: [] as number[],
    cpu: [] as number[],
  };
  const bare = { wall: [] as number[] };
  const jobs = many.map((e) => ({
    key: pub.export({ format: 'jwk' }).x!,
    message: storedSignedMessage(e, e.metadata!.signature as never),
    sig: (e.metadata!.signature as { sig: string }).sig,
  }));
  let bad = 0;
  try {
    await prefetchedCrypto(many.slice(0, 256), gov, nodeCrypto, pool); // workers started and warm
    for (let round = 0; round < 3; round++) {
      let t = performance.now();
      const floorCpu = await cpuMicros(() => {
        for (let i = 0; i < n; i++) verify(null, bytes, pub, sigBytes);
      });
      rounds.floorWall.push(n / ((performance.now() - t) / 1000));
      rounds.floorCpu.push(n / (floorCpu / 1e6));
      rounds.allCores.push(await concurrentVerifyCeiling(threads, pub, bytes, sigBytes, n));
      t = performance.now();
      const cpu = await cpuMicros(async () => {
        for await (const { batch, crypto } of verifiedAhead(batches, (b) => b, gov, nodeCrypto, pool))
          for (const e of batch) bad += checkEventTrust(e, gov, crypto).violations.length;
      });
      rounds.wall.push(many.length / ((performance.now() - t) / 1000));
      rounds.cpu.push(many.length / (cpu / 1e6));
      t = performance.now();
      const oks = await pool.verify(jobs);
      bare.wall.push(many.length / ((performance.now() - t) / 1000));
      bad += oks.filter((ok) => !ok).length;
    }
  } finally {
    await pool.close();
  }
  if (bad) throw new Error(`bench: ${bad} trust violations in honest events (parallel)`);
  const ceiling = median(rounds.floorWall) * threads;
  return [
    throughputRow(
      `trust check on ${threads} verify thread(s) (replay's path)`,
      median(rounds.wall),
      ceiling,
      'events/s',
      `floor: the Ed25519 ceiling, bare crypto.verify x ${threads} core(s); goal >= 0.8x; median of 3 rounds`,
    ),
    throughputRow(
      `the same, beside bare crypto.verify on ${threads} core(s) at once`,
      median(rounds.wall),
      median(rounds.allCores),
      'events/s',
      `floor: the ceiling measured: ${threads} worker(s) running bare crypto.verify at the same time; median of 3 rounds`,
    ),
    throughputRow(
      `the same, events per CPU-second of all threads`,
      median(rounds.cpu),
      median(rounds.floorCpu),
      'events/CPU-s',
      "floor: bare crypto.verify per CPU-second; the path's cost beyond Ed25519, whatever the load",
    ),
    throughputRow(
      `bare crypto.verify of the same bytes on the ${threads} worker(s)`,
      median(bare.wall),
      ceiling,
      'events/s',
      'what the workers give with no trust check: the ceiling this machine reaches now',
    ),
  ];
}
