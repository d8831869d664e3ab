/**
 * Claims of README.md and docs/RELIABILITY.md that no other unit spec pinned down (issue #15): the
 * lifecycle diagram in the README is the one generated from the machine, the library exports what
 * the README lists, which errors count as an interruption (exit 1, nothing recorded as failed), and
 * that a business role named by `policy.roles` must be held by an approver.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as lib from '../../src/index.js';
import type { EventStore } from '../../src/store/index.js';
import {
  CutterError,
  exitCodeFor,
  GovernanceRefusedError,
  InterruptedError,
  InvalidInputError,
  isInterruption,
  VerificationFailedError,
} from '../../src/errors.js';
import { given } from '../support/decider-spec.js';
import { approval, dryRun, liveStart, planned } from '../support/cut-events.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README: the lifecycle diagram', () => {
  it('is exactly what `npm run diagram` generates from the machine definition', () => {
    const blocks = readme
      .split('```mermaid\n')
      .slice(1)
      .map((b) => b.split('```')[0]!.trim());
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toBe(lib.toMermaid(lib.cutMachine).trim());
  });
});

describe("README: library use (`import { openStore } from 'cutter'`)", () => {
  it("the package entry is src/index.ts's build, exporting the store, the machine, the event schemas and replay", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(pkg.exports['.']).toBe('./dist/src/index.js');
    expect(pkg.name).toBe('cutter');
    const exported = [
      'openStore',
      'cutMachine',
      'replay',
      'DomainEvent',
      'parseStored',
      'toStorable',
      'InvalidInputError',
      'ConcurrencyError',
    ] as const;
    expect(exported.filter((name) => lib[name] === undefined)).toEqual([]);
    expect(typeof lib.openStore).toBe('function');
    expect(typeof lib.replay).toBe('function');
    expect(typeof (lib.DomainEvent as { safeParse?: unknown }).safeParse).toBe('function'); // a zod schema
    // What openStore gives (checked by tsc: `npm run typecheck` covers test/).
    expectTypeOf<EventStore>().toHaveProperty('append');
    expectTypeOf<EventStore>().toHaveProperty('readStream');
    expectTypeOf<EventStore>().toHaveProperty('readAll');
    expectTypeOf<EventStore>().toHaveProperty('verifyChain');
    expectTypeOf<EventStore>().toHaveProperty('subscribe');
    expectTypeOf<EventStore>().toHaveProperty('close');
  });
});

describe('RELIABILITY: a lost connection is an interruption, not a phase failure', () => {
  const pg = (code: string, message = 'x') => Object.assign(new Error(message), { code });
  const interruptions: [string, unknown][] = [
    ['class 08 (connection exception)', pg('08006')],
    ['class 08 (connection does not exist)', pg('08003')],
    ['57P01 admin shutdown', pg('57P01', 'terminating connection due to administrator command')],
    ['57P02 crash shutdown', pg('57P02')],
    ['57P03 cannot connect now', pg('57P03', 'the database system is starting up')],
    ['40001 serialization failure', pg('40001')],
    ['40P01 deadlock', pg('40P01')],
    ['53300 too many connections', pg('53300')],
    ['a socket error code', pg('ECONNRESET')],
    ['a socket refused', pg('ECONNREFUSED')],
    ['"Connection terminated unexpectedly" with no code', new Error('Connection terminated unexpectedly')],
    ['an InterruptedError', new InterruptedError('legA interrupted')],
  ];
  it.each(interruptions)('%s is an interruption, and exits 1', (_what, err) => {
    expect(isInterruption(err)).toBe(true);
    expect(exitCodeFor(new InterruptedError('x'))).toBe(1);
  });

  const verdicts: [string, unknown][] = [
    ['a unique violation', pg('23505')],
    ['a check violation', pg('23514')],
    ['a syntax error', pg('42601')],
    ['drift (refused by governance)', new GovernanceRefusedError('rows drifted since the backup')],
    ['a failed verification', new VerificationFailedError('hash differs')],
    ['bad input', new InvalidInputError('changes[0].upsert.id: required')],
    ['a plain error', new Error('boom')],
    ['not an error at all', 'boom'],
  ];
  it.each(verdicts)('%s is a verdict (recorded as PhaseFailed), not an interruption', (_what, err) => {
    expect(isInterruption(err)).toBe(false);
  });

  it('maps each error code to the exit codes the README lists', () => {
    expect(exitCodeFor(new InvalidInputError('x'))).toBe(2);
    expect(exitCodeFor(new GovernanceRefusedError('x'))).toBe(3);
    expect(exitCodeFor(new CutterError('IllegalTransition', 'x'))).toBe(3);
    expect(exitCodeFor(new CutterError('Concurrency', 'x'))).toBe(3);
    expect(exitCodeFor(new VerificationFailedError('x'))).toBe(4);
    expect(exitCodeFor(new Error('unexpected'))).toBe(1);
  });
});

describe('README: business roles that policy.roles requires of an approver', () => {
  const h = (bobRoles: string[]) => [
    planned({ roles: ['sre'] }),
    approval('alice', 1, { roles: ['dba'] }),
    approval('bob', 2, { roles: bobRoles }),
    ...dryRun(),
  ];
  it('refuses a live run when no counted approver holds the role', () =>
    given(h(['dba']))
      .when(liveStart())
      .thenThrows('GovernanceRefused', /none by an approver with role sre/));
  it('starts it once an approver holding the role approved', () =>
    given(h(['dba', 'sre']))
      .when(liveStart())
      .then([liveStart()]));
});
