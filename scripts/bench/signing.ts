/**
 * Signing and verification costs of the trust model (DESIGN §7): signing an event (canonical JSON +
 * Ed25519) beside a bare `crypto.sign` of the same bytes; the trust check of a signed event
 * (signature, signer, role) beside a bare `crypto.verify`; SSHSIG verification in Node; and an
 * SSHSIG signature through `ssh-keygen -Y sign` (a process per event) beside Node's Ed25519 sign.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registryHash } from '../../events/governance.js';
import { signedMessage } from '../../events/signature.js';
import { publicKeyText } from '../../src/crypto/approvals.js';
import { keyFingerprint, verifySignature } from '../../src/crypto/signatures.js';
import { signWithSshKeygen } from '../../src/crypto/sshsig.js';
import { foldGovernance } from '../../src/domain/governance.js';
import { checkEventTrust } from '../../src/domain/trust.js';
import { nodeCrypto } from '../../src/governance/authority.js';
import { throughputRow, type BenchRow } from './measure.js';
import { defaultVerifyThreads, prefetchedCrypto, VerifyPool } from '../../src/crypto/verify-pool.js';

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

  // Verifying replay on every core (src/crypto/verify-pool.ts): a batch's checks prefetched on the
  // worker pool, then the trust check of each event answered from them. Ceiling: bare verify x cores.
  const threads = defaultVerifyThreads();
  const many = signedEvents(opts.quick ? 4_096 : 16_384);
  const pool = new VerifyPool(threads);
  try {
    await prefetchedCrypto(many.slice(0, 256), gov, nodeCrypto, pool); // workers started and warm
    const t = performance.now();
    const fast = await prefetchedCrypto(many, gov, nodeCrypto, pool);
    for (const e of many) bad += checkEventTrust(e, gov, fast).violations.length;
    const parallel = many.length / ((performance.now() - t) / 1000);
    if (bad) throw new Error(`bench: ${bad} trust violations in honest events (parallel)`);
    rows.push(
      throughputRow(
        `trust check on ${threads} verify thread(s) (replay's path)`,
        parallel,
        verifyFloor * threads,
        'events/s',
        `floor: the Ed25519 ceiling, bare crypto.verify x ${threads} core(s); goal >= 0.8x`,
      ),
    );
  } finally {
    await pool.close();
  }

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
