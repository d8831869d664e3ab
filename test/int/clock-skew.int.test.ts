/**
 * Attack (an operator who controls the runner's clock: the system clock, libfaketime): approval
 * expiry is judged by the times a runner records, so a clock set back would make approvals past
 * their TTL look fresh. The append function (migration 10) refuses a recorded time more than five
 * minutes from the store server's clock, before it writes anything; the runner names the skew (exit
 * 3). Found by an insider review (fifth session), which made a cut with approvals 3 h old under a
 * 1 h TTL run with the clock set back.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runLive } from '../../src/runner/live.js';
import { sql } from '../../src/store/connection.js';
import { readyCut, testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
afterEach(async () => {
  vi.useRealTimers();
  await ws?.drop();
});

describe("the recorded time is the store server's, within five minutes", () => {
  it('refuses a live run from a clock set back (or ahead), before any row changes; runs on the right time', async () => {
    ws = await testWorkspace({ rows: 10 });
    await readyCut(ws, 'c1');
    const before = await ws.target.snapshot();
    const version = () => ws.as('erin', async (s) => (await s.store()).streamVersion('cut-c1'));
    const recorded = await version();

    const real = Date.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    // Set back, the approvals look dated after the run and the decider refuses first; set ahead
    // (approvals still inside their TTL), the append itself is refused by the server's clock.
    // The fake clock stands still while the server's runs on: offsets keep well clear of 300 s.
    for (const offset of [-3 * 3600, -600, 600, 1800]) {
      vi.setSystemTime(real + offset * 1000);
      const err = (await ws.as('erin', (s) => runLive(s, 'c1')).catch((e: unknown) => e)) as Error & {
        code?: string;
        reasons?: string[];
      };
      expect(err.code, `${offset} s`).toBe('GovernanceRefused');
      const said = [err.message, ...(err.reasons ?? [])].join('\n');
      if (offset > 0) {
        expect(said).toMatch(/this machine's clock is \d+ s off the store server's/);
        expect(Math.abs(Number(/clock is (-?\d+) s/.exec(said)![1]) - offset)).toBeLessThan(60);
      } else expect(said).toMatch(/dated after/);
      expect(await ws.target.snapshot()).toEqual(before);
      expect(await version()).toBe(recorded);
    }
    vi.useRealTimers();
    expect((await ws.as('erin', (s) => runLive(s, 'c1'))).state).toBe('completed');
  });

  it('the bare function refuses a recorded time 310 s off, in either direction, and takes one 60 s off', async () => {
    ws = await testWorkspace({ rows: 1 });
    await ws.as('erin', async (session) => {
      const store = await session.store();
      const call = (seconds: number) =>
        store.db.query(sql`SELECT * FROM cutter.append_events(${`t-${seconds}`}, 'any',
          ARRAY[gen_random_uuid()], ARRAY['T'], ARRAY['{}'::jsonb], ARRAY['{}'::jsonb], ARRAY[${'d'.repeat(64)}],
          clock_timestamp() + make_interval(secs => ${seconds}))`);
      for (const s of [-310, 310]) await expect(call(s)).rejects.toMatchObject({ code: 'CT425' });
      expect(await call(60)).toHaveLength(1);
      expect(await call(-60)).toHaveLength(1);
    });
  });
});
