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
  | 'Interrupted'
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
    super('Concurrency', `stream ${streamId}: expected version ${expected}, actual ${actual}`, {
      streamId,
      expected,
      actual,
    });
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

/** The CLI's exit statuses (DESIGN.md, CLI contract), defined here once. */
export const EXIT = {
  ok: 0,
  /** An internal error, or a run interrupted by its infrastructure (resumable). */
  failed: 1,
  /** Bad input: a usage error, or a plan, config or option that does not validate. */
  invalidInput: 2,
  /** Governance refused: locks, approvals, roles, an illegal transition, a busy target, a halt. */
  refused: 3,
  /** A verification failure or a replay violation. */
  verificationFailed: 4,
} as const;

export const EXIT_CODES: Record<ErrorCode, number> = {
  InvalidInput: EXIT.invalidInput,
  IllegalTransition: EXIT.refused,
  GovernanceRefused: EXIT.refused,
  Concurrency: EXIT.refused,
  VerificationFailed: EXIT.verificationFailed,
  Interrupted: EXIT.failed,
  Internal: EXIT.failed,
};

/** A run stopped by its infrastructure (a lost connection, a server restart): resumable. Exit 1. */
export class InterruptedError extends CutterError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('Interrupted', message, details);
  }
}

const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '40001', '40P01', '53300']);
const TRANSIENT_NODE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTCONN']);
/** The drivers' messages for a connection that went away (no code to go by). */
const CONNECTION_LOST = new RegExp(
  'connection terminated|terminating connection|server closed the connection|Connection ended|' +
    'the database system is (starting up|shutting down|in recovery)',
  'i',
);

/**
 * Is this an interruption rather than a verdict: the connection or the server went away, or
 * PostgreSQL asked for a retry (serialization failure, deadlock)? Such a phase either rolled back
 * or committed with its receipt, so running the same command again resumes it safely.
 */
export function isInterruption(err: unknown): boolean {
  if (err instanceof CutterError) return err.code === 'Interrupted';
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  return (
    code.startsWith('08') ||
    TRANSIENT_SQLSTATES.has(code) ||
    TRANSIENT_NODE_CODES.has(code) ||
    CONNECTION_LOST.test(message)
  );
}

/** The process exit status for any thrown value: a CutterError's code, else 1. */
export function exitCodeFor(err: unknown): number {
  return err instanceof CutterError ? EXIT_CODES[err.code] : EXIT.failed;
}
