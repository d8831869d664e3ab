/**
 * Replay's signature checks on worker threads (src/crypto/verify-pool.ts) against real PostgreSQL:
 * a store holding honest events and events tampered by the database owner (edited data under the
 * old signature, a signature copied from another event) gives the same verdict and the same
 * violations in the same order with 1, 2 and 4 threads; the prefetched answers equal the ordinary,
 * one-at-a-time verification for every event and are given only for the event they were computed
 * from (the fast path changes no answer), and so are the approvals' own signatures (the trust check's
 * and the machine guard's); batches verified ahead come back unchanged and in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayStore } from '../../src/audit/replay.js';
import { approveCut } from '../../src/cuts/approve.js';
import { planCut } from '../../src/cuts/plan.js';
import { prefetchChecks, prefetchedCrypto, verifiedAhead, VerifyPool } from '../../src/crypto/verify-pool.js';
import {
  approvalPayload,
  approvalVerdictKey,
  verifyApprovalSignature,
  type ApprovalRecord,
} from '../../machines/approvals.js';
import { checkEventTrust } from '../../src/domain/trust.js';
import { EventSignature, storedSignedMessage } from '../../events/signature.js';
import { memberOf } from '../../events/governance.js';
import { readGovernance, nodeCrypto } from '../../src/governance/authority.js';
import { connect, sql } from '../../src/store/connection.js';
import { testWorkspace, bigPlan, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
const CUTS = 24; // 3 events each (plan, two approvals): 72 signed cut events, above the pool's inline floor

/** The test's cut streams (each one's events) and the governance in force, read as the auditor. */
function readCutStreams() {
  return ws.as('auditor', async (s) => {
    const store = await s.store();
    const streams = [];
    for (let i = 0; i < CUTS; i++) streams.push(await store.readStream(`cut-vp${i}`));
    return { streams, governance: await readGovernance(store, ws.root) };
  });
}

beforeAll(async () => {
  ws = await testWorkspace({ rows: 10 });
  for (let i = 0; i < CUTS; i++) {
    const id = `vp${i}`;
    const file = ws.writePlan(id, bigPlan(id, 2, 10));
    await ws.as('erin', (s) => planCut(s, file));
    await ws.as('alice', (s) => approveCut(s, id));
    await ws.as('bob', (s) => approveCut(s, id));
  }
  // The owner edits history under the immutability triggers' noses: an approval's data changed
  // under its old signature, and another approval given the signature of a third event.
  const db = connect(ws.store.url, { poolSize: 1 });
  try {
    await db.tx(async (tx) => {
      await tx.query(sql`SET LOCAL session_replication_role = replica`);
      await tx.query(
        sql`UPDATE cutter.events SET data = jsonb_set(data, '{roles}', '["approver", "dba", "sre"]') WHERE stream_id = 'cut-vp3' AND version = 2`,
      );
      await tx.query(sql`UPDATE cutter.events SET metadata = jsonb_set(metadata, '{signature,sig}', (SELECT metadata->'signature'->'sig' FROM cutter.events WHERE stream_id = 'cut-vp9' AND version = 3))
        WHERE stream_id = 'cut-vp7' AND version = 3`);
    });
  } finally {
    await db.dispose();
  }
}, 300_000);
afterAll(async () => ws?.drop());

describe('verifying replay on worker threads', () => {
  it('gives the same verdict and the same violations in the same order with 1, 2 and 4 threads', async () => {
    const runs = [];
    for (const threads of [1, 2, 4])
      runs.push(
        await ws.as('auditor', async (s) => replayStore(await s.store(), undefined, { trustRoot: ws.root, threads })),
      );
    const signature = runs[0]!.violations
      .filter((v) => v.rule === 'signature')
      .map((v) => `${v.streamId}@${v.version}`);
    expect(signature).toEqual(['cut-vp3@2', 'cut-vp7@3']);
    expect(runs[0]!.ok).toBe(false);
    expect(runs[0]!.events).toBe(CUTS * 3);
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
  });

  it('answers every event exactly as one-at-a-time verification does', async () => {
    const { streams, governance } = await readCutStreams();
    const stored = streams.flat();
    const pool = new VerifyPool(2);
    try {
      const small = await prefetchedCrypto(stored.slice(0, 10), governance, nodeCrypto, pool);
      expect(small, 'a small batch is verified inline').toBe(nodeCrypto);
      expect(pool.started, 'and starts no worker (peak RSS)').toBe(0);
      const fast = await prefetchedCrypto(stored, governance, nodeCrypto, pool);
      expect(pool.started).toBe(2);
      expect(fast, 'the batch is large enough to go to the pool').not.toBe(nodeCrypto);
      const verdicts = { fast: [] as (boolean | undefined)[], slow: [] as boolean[] };
      for (const e of stored) {
        const s = EventSignature.parse(e.metadata.signature);
        const member = memberOf(governance.versions[s.governance - 1]!.registry, s.signer)!;
        verdicts.fast.push(fast.eventVerdict!(e, member.publicKey, s));
        verdicts.slow.push(nodeCrypto.verify(member.publicKey, storedSignedMessage(e, s), s.sig));
        // Only for the event object it was computed from, and only for the same inputs.
        expect(fast.eventVerdict!({ ...e }, member.publicKey, s)).toBeUndefined();
        expect(fast.eventVerdict!(e, member.publicKey, { ...s, sig: `${s.sig}x` })).toBeUndefined();
        expect(fast.eventVerdict!(e, member.publicKey, { ...s, governance: s.governance + 1 })).toBeUndefined();
        // The trust check of the event, through the fast path and the slow one: the same violations.
        expect(checkEventTrust(e, governance, fast)).toEqual(checkEventTrust(e, governance, nodeCrypto));
      }
      expect(verdicts.fast).toHaveLength(CUTS * 3);
      expect(verdicts.fast).toEqual(verdicts.slow);
      expect(verdicts.slow.filter((ok) => !ok)).toHaveLength(2);
    } finally {
      await pool.close();
    }
  });

  it("answers the approvals' own signatures exactly as the trust check and the machine's guard do", async () => {
    const { streams, governance } = await readCutStreams();
    const stored = streams.flat();
    const pool = new VerifyPool(2);
    try {
      const { crypto, approvals } = await prefetchChecks(stored, governance, nodeCrypto, pool);
      const verdicts = { trust: [] as boolean[], machine: [] as (boolean | undefined)[], slow: [] as boolean[] };
      for (const e of stored.filter((x) => x.type === 'ApprovalGranted')) {
        const a = e.data as ApprovalRecord;
        const payload = Buffer.from(approvalPayload(a));
        verdicts.trust.push(crypto.verify(a.publicKey, payload, a.signature));
        verdicts.machine.push(approvals.get(approvalVerdictKey(a)));
        verdicts.slow.push(nodeCrypto.verify(a.publicKey, payload, a.signature));
        expect(verifyApprovalSignature(a)).toBe(nodeCrypto.verify(a.publicKey, payload, a.signature));
        // Other bytes under a known signature are verified, not answered from the verdicts.
        expect(crypto.verify(a.publicKey, Buffer.concat([payload, Buffer.from(' ')]), a.signature)).toBe(false);
      }
      expect(verdicts.slow).toHaveLength(CUTS * 2);
      expect(verdicts.trust).toEqual(verdicts.slow);
      expect(verdicts.machine).toEqual(verdicts.slow);
      // The approval whose roles the owner rewrote no longer verifies.
      expect(verdicts.slow.filter((ok) => !ok)).toHaveLength(1);
    } finally {
      await pool.close();
    }
  });

  it('verifies the next batch while the caller checks this one, batches unchanged', async () => {
    const { streams: stored, governance } = await readCutStreams();
    // Batches of 8 cuts (24 events, under the pool's inline floor) and of all of them (72).
    const batches = [stored.slice(0, 8).flat(), stored.flat(), stored.slice(8).flat()];
    const pool = new VerifyPool(2);
    try {
      const seen = [];
      for await (const { batch, crypto } of verifiedAhead(batches, (b) => b, governance, nodeCrypto, pool)) {
        seen.push(batch);
        for (const e of batch)
          expect(checkEventTrust(e, governance, crypto)).toEqual(checkEventTrust(e, governance, nodeCrypto));
      }
      expect(seen).toEqual(batches);
    } finally {
      await pool.close();
    }
  });
});
