/**
 * Concurrency campaign: 8 runners over 4 cuts on 2 targets, while the kill-switch is flipped at
 * moments fast-check picks (seeded). Exclusivity per target holds at every instant (checked on the
 * log), every cut ends completed once the switch is finally released, every refusal names its
 * reason, and the whole log replays clean.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { replayStore } from '../../src/audit/replay.js';
import { approveCut } from '../../src/cuts/approve.js';
import { planCut } from '../../src/cuts/plan.js';
import { CutterError } from '../../src/errors.js';
import { killSwitchStatus, setKillSwitch } from '../../src/killswitch/index.js';
import { dryRun } from '../../src/runner/dry-run.js';
import { runLive } from '../../src/runner/live.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
afterEach(async () => ws?.drop());

const as: TestWorkspace['as'] = (actor, fn, env) => ws.as(actor, fn, env);

describe('concurrency campaign', () => {
  it('8 runners, 4 cuts, 2 targets, random kill-switch flips: exclusive, complete, clean', async () => {
    ws = await testWorkspace({ rows: 200 });
    const cuts = ['a1', 'a2', 'b1', 'b2'];
    for (const id of cuts) {
      const plan = { ...bigPlan(id, 300, 200), target: id.startsWith('a') ? 'kb' : 'kb2' };
      const file = ws.writePlan(id, plan);
      await as('erin', (s) => planCut(s, file));
      await as('alice', (s) => approveCut(s, id));
      await as('bob', (s) => approveCut(s, id));
      await as('erin', (s) => dryRun(s, id));
    }
    const flips = fc.sample(fc.array(fc.integer({ min: 20, max: 400 }), { minLength: 4, maxLength: 8 }), {
      seed: 42,
      numRuns: 1,
    })[0]!;
    const reasons = new Set<string>();
    let flipping = true;
    const flipper = (async () => {
      for (const wait of flips) {
        await new Promise((r) => setTimeout(r, wait));
        const engaged = (await as('dana', (s) => killSwitchStatus(s))).engaged;
        await as('dana', (s) =>
          setKillSwitch(s, engaged ? { action: 'release' } : { action: 'engage', reason: 'campaign flip' }),
        );
      }
      if ((await as('dana', (s) => killSwitchStatus(s))).engaged)
        await as('dana', (s) => setKillSwitch(s, { action: 'release' }));
      flipping = false;
    })();
    const runner = async (cutId: string) => {
      for (let attempt = 0; attempt < 200; attempt++) {
        try {
          const r = await as('erin', (s) => runLive(s, cutId));
          if (r.state === 'completed') return 'completed';
          if (r.halted) reasons.add(`halted: ${r.halted.reason}`);
        } catch (err) {
          if (!(err instanceof CutterError)) throw err;
          reasons.add(err.message.replace(/cut \S+/g, 'cut X').replace(/with cut \S+/, 'with cut X'));
          if (err.code === 'IllegalTransition' && /completed/.test(err.message)) return 'completed';
        }
        await new Promise((r) => setTimeout(r, flipping ? 30 : 10));
      }
      return 'gave up';
    };
    const results = await Promise.all(cuts.flatMap((id) => [runner(id), runner(id)]));
    await flipper;
    expect(results).toEqual(Array(8).fill('completed'));
    for (const r of reasons)
      expect(r).toMatch(
        /halted: kill-switch|refused|being run by another runner|target busy|nothing to run live|not allowed/,
      );
    const report = await as('auditor', async (s) => replayStore(await s.store(), undefined, { trustRoot: ws.root }));
    expect(JSON.stringify(report.violations)).toBe('[]');
    expect(report.streams).toBe(4);
    console.log(`campaign: flips ${flips.length}, distinct refusals/halts: ${[...reasons].join(' | ')}`);
  });
});
