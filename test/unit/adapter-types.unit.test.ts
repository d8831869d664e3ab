/** Invariant 3 by construction: live mode cannot obtain the simulator (checked by tsc via @ts-expect-error). */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { assertLive, executorFor, type LiveExecutionAdapter, type Simulator } from '../../src/adapters/index.js';

describe('executor types', () => {
  it('gives live mode a LiveExecutionAdapter and dry-run a Simulator, never the other', () => {
    expectTypeOf(executorFor<'live'>).returns.toEqualTypeOf<LiveExecutionAdapter>();
    expectTypeOf(executorFor<'dry-run'>).returns.toEqualTypeOf<Simulator>();
    // @ts-expect-error a Simulator is not a LiveExecutionAdapter
    const live: LiveExecutionAdapter = {} as Simulator;
    // @ts-expect-error a live executor cannot be typed as the simulator
    const sim: Simulator = {} as ReturnType<typeof executorFor<'live'>>;
    expect([live, sim]).toHaveLength(2);
    expect(() => assertLive({ executor: 'simulator' } as Simulator)).toThrow(/invariant 3/);
  });
});
