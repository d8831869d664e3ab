/** given(events).when(event).then(events) / .thenThrows(code) — decider specs that read like specifications. */
import { expect } from 'vitest';
import { decide, evolve, initialState, type CutState } from '../../src/domain/index.js';
import type { DomainEvent } from '../../events/index.js';
import { CutterError } from '../../src/errors.js';

export function given(history: DomainEvent[]) {
  const state: CutState = history.reduce(evolve, initialState());
  return {
    state,
    when(command: DomainEvent) {
      return {
        then(expected: DomainEvent[]) {
          expect(decide(command, state)).toEqual(expected);
        },
        thenThrows(code: string, reason?: RegExp) {
          let err: unknown;
          try {
            decide(command, state);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(CutterError);
          expect((err as CutterError).code).toBe(code);
          if (reason)
            expect(
              [(err as Error).message, ...(((err as CutterError).details.reasons as string[]) ?? [])].join('\n'),
            ).toMatch(reason);
        },
      };
    },
  };
}
