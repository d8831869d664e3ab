/**
 * Replay after a kept checkpoint, invariant 6 (issue #18): the cut that holds a target may be
 * unchanged since the checkpoint (so not replayed); a live start written after it on the same
 * target, past the projection's busy-target check, is still named — the walk covers every cut on
 * the targets the streams written since touch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toStorable, type CutPlan, type DomainEvent } from '../../events/index.js';
import { MACHINE_VERSION } from '../../machines/cut.js';
import { recordCheckpoint } from '../../src/audit/checkpoints.js';
import { replayStore } from '../../src/audit/replay.js';
import { signEvents, type Authority } from '../../src/governance/authority.js';
import { openStore } from '../../src/store/index.js';
import type { Session } from '../../src/workspace/session.js';
import { forgedApprovedCut, liveStarted } from '../support/forge.js';
import { testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
const sessions = new Map<string, { session: Session; auth?: Authority }>();
beforeAll(async () => {
  ws = await testWorkspace({ rows: 20 });
});
afterAll(async () => {
  for (const { session } of sessions.values()) await session.close();
  await ws?.drop();
});

/** Appends `events` to cut `cutId`'s stream signed by `actor`; `bare` skips the inline projection. */
async function appendSigned(actor: string, cutId: string, events: DomainEvent[], bare = false): Promise<void> {
  let m = sessions.get(actor);
  if (!m) sessions.set(actor, (m = { session: ws.session(actor) }));
  const auth = (m.auth ??= await m.session.authority());
  const store = bare ? await openStore(ws.store.url) : await m.session.store();
  try {
    const stream = `cut-${cutId}`;
    const v = await store.streamVersion(stream);
    const signed = await signEvents(
      auth,
      stream,
      v,
      events.map((e) => toStorable(e, { machineVersion: MACHINE_VERSION })),
    );
    await store.append(stream, signed, { expectedVersion: v === 0 ? 'no_stream' : v, context: { actor } });
  } finally {
    if (bare) await store.close();
  }
}

async function approvedCut(id: string, target: string) {
  const plan: CutPlan = {
    id,
    target,
    author: 'erin',
    reason: 'fix a title',
    changes: [{ upsert: { id: 'KB-0001', title: 'fixed', body: 'body 1' } }],
  };
  const f = await forgedApprovedCut(ws, plan);
  const [planned, a1, a2, ...dry] = f.events;
  await appendSigned('erin', id, [planned!]);
  await appendSigned('alice', id, [a1!]);
  await appendSigned('bob', id, [a2!]);
  await appendSigned('erin', id, dry);
  return f;
}

describe('replay after a kept checkpoint: invariant 6', () => {
  it('names a live start written after the checkpoint on a target an unchanged cut holds', async () => {
    const y1 = await approvedCut('y1', 'kb');
    await appendSigned('erin', 'y1', [liveStarted(y1.planHash, 'live-y1', y1.at(10))]); // y1 holds kb
    const other = await approvedCut('o1', 'kb2'); // another target, unchanged since: not walked
    expect(other.planHash).toMatch(/^[0-9a-f]{64}$/);
    const signer = ws.session('alice');
    const cp = await recordCheckpoint(signer).finally(() => signer.close());
    const y2 = await approvedCut('y2', 'kb');
    await appendSigned('erin', 'y2', [liveStarted(y2.planHash, 'live-y2', y2.at(10))], true);
    const store = await openStore(ws.store.url);
    try {
      const full = await replayStore(store, undefined, { trustRoot: ws.root });
      const after = await replayStore(store, undefined, { trustRoot: ws.root, since: cp.file });
      const exclusive = (r: typeof full) => r.violations.filter((v) => v.rule === 'target-exclusive');
      expect(exclusive(full)).toEqual([
        expect.objectContaining({
          streamId: 'cut-y2',
          type: 'LiveRunStarted',
          message: 'target kb already held by cut y1',
        }),
      ]);
      expect(exclusive(after)).toEqual(exclusive(full));
      expect(after.since).toMatchObject({ anchored: true, replayedStreams: 1 });
      expect(after.streams).toBe(1);
      // What the full replay finds beyond this, the mode after the checkpoint finds too (nothing else here).
      expect(after.violations.map((v) => v.rule)).toEqual(full.violations.map((v) => v.rule));
    } finally {
      await store.close();
    }
  });
});
