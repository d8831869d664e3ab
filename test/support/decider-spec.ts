/**
 * given(events).when(x).then(events) / .thenThrows(code) — decider specs that read like
 * specifications. `x` is a command (src/domain/commands.ts: the decider decides what it records) or
 * an event (the machine's admission of exactly that event, src/domain/decide.ts).
 */
import { expect } from 'vitest';
import {
  admit,
  decide,
  evolve,
  initialState,
  type CutCommand,
  type CutState,
  type DomainEvent,
} from '../../src/domain/index.js';
import { DomainEvent as DomainEventSchema } from '../../events/index.js';
import { CutterError } from '../../src/errors.js';

const EVENT_TYPES = new Set<string>(DomainEventSchema.options.map((o) => o.shape.type.value));
const isEvent = (x: CutCommand | DomainEvent): x is DomainEvent => EVENT_TYPES.has(x.type);
const run = (x: CutCommand | DomainEvent, state: CutState) => (isEvent(x) ? admit(x, state) : decide(x, state));

export function given(history: DomainEvent[]) {
  const state: CutState = history.reduce(evolve, initialState());
  return {
    state,
    when(command: CutCommand | DomainEvent) {
      return {
        then(expected: DomainEvent[]) {
          expect(run(command, state)).toEqual(expected);
        },
        thenThrows(code: string, reason?: RegExp) {
          let err: unknown;
          try {
            run(command, state);
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
