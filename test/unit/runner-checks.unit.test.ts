/**
 * The runner's pure call-time refusals, as specifications: given the recorded history (and the
 * clock, the locks, a backup's keys), the refusal and its reason — or none.
 */
import { describe, expect, it } from 'vitest';
import { toStorable } from '../../events/index.js';
import { BackupScope } from '../../src/adapters/backup-scope.js';
import { evolve, foldLenient, initialState, stateName, type DomainEvent } from '../../src/domain/index.js';
import {
  approvalReasonsAt,
  backupHeaderProblem,
  backupRecordProblem,
  closedLockReasons,
  planIntegrityReasons,
} from '../../src/runner/checks.js';
import {
  approval,
  at,
  dryRun,
  fullLive,
  HASH,
  liveStart,
  OPEN,
  phaseEvents,
  plan,
  planned,
  revertStart,
} from '../support/cut-events.js';

const fold = (events: DomainEvent[]) => events.reduce(evolve, initialState());
const stored = (events: DomainEvent[]) =>
  events.map((e, i) => ({ ...toStorable(e, { machineVersion: '1.0.0' }), version: i + 1 }));

describe('re-hashing the recorded plan', () => {
  it('accepts the plan that hashes to its recorded plan hash', () =>
    expect(planIntegrityReasons({ plan, planHash: HASH }, HASH)).toEqual([]));
  it('refuses a recorded plan that differs from its hash, naming both hashes', () => {
    const forged = { ...plan, changes: [{ upsert: { id: 'B', title: 'evil', body: 'b' } }] };
    const [reason] = planIntegrityReasons({ plan: forged, planHash: HASH }, HASH);
    expect(reason).toMatch(new RegExp(`not to its recorded plan hash ${HASH.slice(0, 12)}`));
  });
  it('refuses a CutPlanned whose hash is not the one the cut was folded with', () =>
    expect(planIntegrityReasons({ plan, planHash: HASH }, '9'.repeat(64)).join()).toMatch(
      /the cut was planned with 999999999999/,
    ));
});

describe('resuming a crashed live run (no new start event)', () => {
  const crashed = [planned(), approval('alice'), approval('bob', 2), ...dryRun(), liveStart(), phaseEvents().backup!];
  it('accepts approvals still inside their TTL', () => expect(approvalReasonsAt(fold(crashed), at(600))).toEqual([]));
  it('refuses once the approvals expired', () =>
    expect(approvalReasonsAt(fold(crashed), at(2 * 3600)).join('\n')).toMatch(/expired[\s\S]*0 of 2 required/));
  it('refuses approvals dated after now', () =>
    expect(approvalReasonsAt(fold(crashed), at(-60)).join('\n')).toMatch(/dated after/));
});

describe('the locks', () => {
  it('names nothing when all three are open', () => expect(closedLockReasons(OPEN)).toEqual([]));
  it('names every closed lock, with the kill-switch reason', () =>
    expect(
      closedLockReasons({ config: false, env: false, killSwitch: false, killSwitchVersion: 3 }, 'incident'),
    ).toEqual([
      'lock 1 closed: execution.enabled is not true in the config',
      'lock 2 closed: CUTTER_EXECUTION_ENABLED is not 1 in the environment',
      'lock 3 closed: the kill-switch is engaged (incident)',
    ]));
});

describe("a backup's scope", () => {
  const scope = (planned: string[][], backup: string[][]) => {
    const s = new BackupScope();
    let problem: string | undefined;
    const queue = [...planned];
    for (const keys of backup) {
      while (s.pending() < keys.length && queue.length) s.addPlanned(queue.shift()!);
      problem ??= s.check(keys);
    }
    for (const keys of queue) s.addPlanned(keys);
    return problem ?? s.finish();
  };
  it('accepts the plan keys in plan order, whatever the JSON spelling or batching', () =>
    expect(
      scope([['{"id":"A"}', '{"id":"B"}'], ['{"id":"C"}']], [['{"id": "A"}'], ['{"id": "B"}', '{"id": "C"}']]),
    ).toBeUndefined());
  it('refuses a key the plan does not name, naming it', () =>
    expect(scope([['{"id":"A"}', '{"id":"B"}']], [['{"id":"A"}', '{"id":"KB-0009"}']])).toBe(
      'the backup holds key {"id":"KB-0009"} at entry 2, where the plan names {"id":"B"}',
    ));
  it('refuses an extra key after the plan ends', () =>
    expect(scope([['{"id":"A"}']], [['{"id":"A"}', '{"id":"Z"}']])).toMatch(
      /holds key \{"id":"Z"\}, which the plan does not name/,
    ));
  it('refuses a backup missing planned keys', () =>
    expect(scope([['{"id":"A"}', '{"id":"B"}']], [['{"id":"A"}']])).toMatch(/planned key \{"id":"B"\}/));
});

describe('the backup bound to the run', () => {
  const taken = { backupId: 'bk-1', runId: 'l1', plaintextHash: 'e'.repeat(64) };
  const row = { backupId: 'bk-1', cutId: 'c1', runId: 'l1', plaintextSha256: 'e'.repeat(64) };
  it('accepts the vault row BackupTaken names', () => expect(backupRecordProblem(row, 'c1', taken)).toBeUndefined());
  it('refuses a vault row of another run', () =>
    expect(backupRecordProblem({ ...row, runId: 'l2' }, 'c1', taken)).toMatch(/binds it to cut c1 run l1/));
  it('refuses a vault row whose plaintext hash differs from the event', () =>
    expect(backupRecordProblem({ ...row, plaintextSha256: 'f'.repeat(64) }, 'c1', taken)).toMatch(
      /BackupTaken recorded eeeeeeeeeeee/,
    ));
  const want = { cutId: 'c1', planHash: HASH, table: 'public.documents', key: ['id'] };
  it('accepts a header of this cut', () => expect(backupHeaderProblem(want, want)).toBeUndefined());
  it('refuses a header of another cut or table', () => {
    expect(backupHeaderProblem({ ...want, cutId: 'c2' }, want)).toMatch(/of cut "c2"/);
    expect(backupHeaderProblem({ ...want, table: 'public.users' }, want)).toMatch(/of table public.users/);
  });
});

describe('the lenient fold', () => {
  it('folds a legal history with nothing skipped', () => {
    const r = foldLenient(stored([planned(), approval('alice'), approval('bob', 2), ...dryRun(), ...fullLive()]));
    expect(stateName(r.state)).toBe('completed');
    expect(r.skipped).toEqual([]);
  });
  it('skips a second CutPlanned and an out-of-order LegAWritten, naming each, and the cut can still be reverted', () => {
    const history = [
      planned(),
      approval('alice'),
      approval('bob', 2),
      ...dryRun(),
      ...fullLive(),
      planned(),
      phaseEvents().legA!,
    ];
    const r = foldLenient(stored(history));
    expect(stateName(r.state)).toBe('completed');
    expect(r.skipped).toEqual([
      { version: 17, type: 'CutPlanned', reason: 'CutPlanned is not allowed in state completed' },
      { version: 18, type: 'LegAWritten', reason: 'LegAWritten is not allowed in state completed' },
    ]);
    expect(stateName(evolve(r.state, revertStart()))).toBe('reverting');
  });
  it('skips an event whose schema fails', () => {
    const events = stored([planned(), approval('alice')]);
    events.push({ ...events[1]!, version: 3, data: { nonsense: true } as never });
    const r = foldLenient(events);
    expect(r.skipped).toMatchObject([
      { version: 3, type: 'ApprovalGranted', reason: expect.stringMatching(/does not match its schema/) },
    ]);
    expect(stateName(r.state)).toBe('planned');
  });
});
