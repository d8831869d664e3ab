/**
 * Errors are data with stable codes. Every failure that reaches an operator is one of these; the
 * CLI entry maps the code to an exit status once (exitCodeFor) and prints one clear line.
 */
export type ErrorCode =
  | 'InvalidInput'
  | 'IllegalTransition'
  | 'GovernanceRefused'
  | 'Concurrency'
  | 'VerificationFailed'
  | 'Internal';

export class CutterError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = code;
    this.code = code;
    this.details = details;
  }
}

/** Bad input: a plan, config, option or identifier that does not validate. Exit 2. */
export class InvalidInputError extends CutterError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('InvalidInput', message, details);
  }
}

/** The machine does not accept this event in the cut's current state. Exit 3. */
export class IllegalTransitionError extends CutterError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('IllegalTransition', message, details);
  }
}

/** Locks, approvals, dry-run policy or a busy target refused the action. Exit 3. */
export class GovernanceRefusedError extends CutterError {
  readonly reasons: string[];
  constructor(message: string, reasons: string[] = [message], details: Record<string, unknown> = {}) {
    super('GovernanceRefused', message, { ...details, reasons });
    this.reasons = reasons;
  }
}

/** An expected-version append lost a race. Carries the stream's actual version. Exit 3. */
export class ConcurrencyError extends CutterError {
  readonly streamId: string;
  readonly expected: string;
  readonly actual: number;
  constructor(streamId: string, expected: string, actual: number) {
    super('Concurrency', `stream ${streamId}: expected version ${expected}, actual ${actual}`, { streamId, expected, actual });
    this.streamId = streamId;
    this.expected = expected;
    this.actual = actual;
  }
}

/** A write verify, hash chain or replay check failed. Exit 4. */
export class VerificationFailedError extends CutterError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('VerificationFailed', message, details);
  }
}

export const EXIT_CODES: Record<ErrorCode, number> = {
  InvalidInput: 2,
  IllegalTransition: 3,
  GovernanceRefused: 3,
  Concurrency: 3,
  VerificationFailed: 4,
  Internal: 1,
};

/** The process exit status for any thrown value: a CutterError's code, else 1. */
export function exitCodeFor(err: unknown): number {
  return err instanceof CutterError ? EXIT_CODES[err.code] : 1;
}
