/**
 * Attack (the store's database owner, who also holds an operator key): replay judges the
 * kill-switch and the governance in force by commit order (each event's transaction id and global
 * position), which no digest, link or signature covers. The owner hides the kill-switch's engage (or
 * the governance version that revoked the operator), lets the operator run the approved cut live,
 * then puts the very same signed event back: byte for byte, but committed after the run. A
 * checkpoint kept from before the attack pins each head's place in commit order, so replay against
 * it names the move (rule `checkpoint`); without a checkpoint taken between the event and the
 * attack nothing outside the store remembers the order (docs/RELIABILITY.md, "What an owner can
 * still do"). Found by an insider review (fifth session).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { setKillSwitch } from '../../src/killswitch/index.js';
import { runLive } from '../../src/runner/live.js';
import { replayStore } from '../../src/audit/replay.js';
import { recordCheckpoint } from '../../src/audit/checkpoints.js';
import { connect, sql } from '../../src/store/connection.js';
import { applyGovernance } from '../../src/governance/commands.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { readyCut, testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
afterEach(async () => ws?.drop());

/**
 * The owner puts the hidden events and the head row back, triggers off: with their original commit
 * points (`original`), or as new rows, which the database commits at a new point.
 */
async function putBack(owner: ReturnType<typeof connect>, stream: string, original: boolean): Promise<void> {
  await owner.tx(async (tx) => {
    await tx.query(sql`SET LOCAL session_replication_role = replica`);
    if (original) await tx.query(sql`INSERT INTO cutter.events OVERRIDING SYSTEM VALUE SELECT * FROM public.hidden_ev`);
    else
      await tx.query(sql`
        INSERT INTO cutter.events (stream_id, version, event_id, type, data, metadata, recorded_at, digest, prev_hash, hash)
        SELECT stream_id, version, event_id, type, data, metadata, recorded_at, digest, prev_hash, hash
        FROM public.hidden_ev ORDER BY version`);
    await tx.query(sql`DELETE FROM cutter.streams WHERE stream_id = ${stream}`);
    await tx.query(sql`INSERT INTO cutter.streams SELECT * FROM public.hidden_head`);
    await tx.query(sql`DROP TABLE public.hidden_ev, public.hidden_head`);
  });
}

describe('a checkpoint pins the commit order of the heads it names', () => {
  /** The kill-switch attack; `original` puts the engage back with its ORIGINAL commit point (the control). */
  async function killSwitchAttack(original: boolean) {
    ws = await testWorkspace({ rows: 10 });
    const as: TestWorkspace['as'] = (actor, fn, env) => ws.as(actor, fn, env);
    await readyCut(ws, 'c1');

    // alice freezes all live writes; an auditor (dana) takes a checkpoint and keeps it.
    await as('alice', (s) => setKillSwitch(s, { action: 'engage', reason: 'incident freeze' }));
    const kept = (await as('dana', (s) => recordCheckpoint(s))).file;

    // The runner honours it.
    const before = await ws.target.snapshot();
    const refused = await as('erin', (s) => runLive(s, 'c1')).catch((e) => e);
    expect(refused.code).toBe('GovernanceRefused');
    expect(await ws.target.snapshot()).toEqual(before);

    // The owner hides the engage (triggers off), keeping the row and the head exactly.
    const owner = connect(ws.store.url, { poolSize: 1 });
    try {
      await owner.tx(async (tx) => {
        await tx.query(sql`SET LOCAL session_replication_role = replica`);
        await tx.query(
          sql`CREATE TABLE public.hidden_ev AS SELECT * FROM cutter.events WHERE stream_id = 'killswitch'`,
        );
        await tx.query(
          sql`CREATE TABLE public.hidden_head AS SELECT * FROM cutter.streams WHERE stream_id = 'killswitch'`,
        );
        await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = 'killswitch'`);
        await tx.query(sql`DELETE FROM cutter.streams WHERE stream_id = 'killswitch'`);
      });

      // The operator runs the approved cut live: lock 3 reads released.
      const r = await as('erin', (s) => runLive(s, 'c1'));
      expect(r.state).toBe('completed');
      expect(await ws.target.snapshot()).not.toEqual(before);

      // The owner puts the same signed event back; the database gives it a new commit point.
      await putBack(owner, 'killswitch', original);
    } finally {
      await owner.dispose();
    }

    // The kill-switch is engaged again, as it "always was".
    const ks = await as('erin', async (s) => (await s.store()).readStream('killswitch'));
    expect(ks.map((e) => e.type)).toEqual(['KillSwitchEngaged']);

    const spec = await as('dana', (s) => s.target('kb'));
    const replay = await as('auditor', async (s) =>
      replayStore(await s.store(), undefined, { trustRoot: ws.root, checkpoint: kept, targets: [spec] }),
    );
    return replay.violations;
  }

  it('control: the same engage put back with its ORIGINAL commit point is named lock-evidence', async () => {
    const v = await killSwitchAttack(true);
    expect(v.map((x) => x.rule)).toContain('lock-evidence');
  });

  it('a live run while the kill-switch was hidden: the engage put back later is named moved, against a checkpoint kept after it', async () => {
    const v = await killSwitchAttack(false);
    const moved = v.filter((x) => x.rule === 'checkpoint' && x.streamId === 'killswitch');
    // Named twice: by the checkpoint in the store and by the kept file.
    expect(moved.map((x) => x.version)).toEqual([1, 1]);
    expect(moved.map((x) => x.message).join('\n')).toMatch(
      /^checkpoint 1 names stream killswitch version 1 committed/m,
    );
    expect(moved.map((x) => x.message).join('\n')).toMatch(
      /^checkpoint file .* \(moved in commit order: deleted and inserted again\)$/m,
    );
  });

  /** The revocation attack; `original` puts version 2 back with its ORIGINAL commit point (the control). */
  async function revokedAttack(original: boolean) {
    ws = await testWorkspace({ rows: 10 });
    const as: TestWorkspace['as'] = (actor, fn, env) => ws.as(actor, fn, env);
    await readyCut(ws, 'c1');

    // Governance version 2 (dana, threshold 1) takes erin's operator role away.
    const g = parse(readFileSync(ws.governanceFile, 'utf8')) as { members: Record<string, { roles: string[] }> };
    g.members.erin!.roles = ['author'];
    const v2 = `${ws.governanceFile}.v2.yaml`;
    writeFileSync(v2, stringify(g));
    await as('dana', async (s) => expect((await applyGovernance(s, v2)).applied).toBe('effective'));

    const kept = (await as('dana', (s) => recordCheckpoint(s))).file; // after version 2, before the attack
    const before = await ws.target.snapshot();
    const refused = await as('erin', (s) => runLive(s, 'c1')).catch((e) => e);
    expect(refused.code).toBe('GovernanceRefused');
    expect(await ws.target.snapshot()).toEqual(before);

    const owner = connect(ws.store.url, { poolSize: 1 });
    try {
      // The owner hides version 2 (the governance stream's tail) ...
      await owner.tx(async (tx) => {
        await tx.query(sql`SET LOCAL session_replication_role = replica`);
        await tx.query(
          sql`CREATE TABLE public.hidden_ev AS SELECT * FROM cutter.events WHERE stream_id = 'governance' AND version > 1`,
        );
        await tx.query(
          sql`CREATE TABLE public.hidden_head AS SELECT * FROM cutter.streams WHERE stream_id = 'governance'`,
        );
        await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = 'governance' AND version > 1`);
        await tx.query(sql`UPDATE cutter.streams s SET version = 1, head_hash = e.hash
          FROM cutter.events e WHERE s.stream_id = 'governance' AND e.stream_id = 'governance' AND e.version = 1`);
      });
      // ... erin runs under version 1 ...
      const r = await as('erin', (s) => runLive(s, 'c1'));
      expect(r.state).toBe('completed');
      // ... and version 2 comes back, committed (as the database now says) after the run.
      await putBack(owner, 'governance', original);
    } finally {
      await owner.dispose();
    }
    expect(await ws.target.snapshot()).not.toEqual(before);
    const spec = await as('dana', (s) => s.target('kb'));
    const replay = await as('auditor', async (s) =>
      replayStore(await s.store(), undefined, { trustRoot: ws.root, checkpoint: kept, targets: [spec] }),
    );
    return replay.violations;
  }

  it("control: version 2 put back with its ORIGINAL commit point: erin's run is named revoked", async () => {
    const v = await revokedAttack(true);
    expect(v.map((x) => x.rule)).toContain('revoked');
  });

  it('a live run by an operator whose role was revoked: version 2 put back later is named moved, against a checkpoint kept after it', async () => {
    const v = await revokedAttack(false);
    const moved = v.filter((x) => x.rule === 'checkpoint' && x.streamId === 'governance');
    expect(moved.map((x) => x.version)).toEqual([2, 2]);
    expect(moved.every((x) => /moved in commit order/.test(x.message))).toBe(true);
  });
});
