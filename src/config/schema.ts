/**
 * cutter.config.yaml, validated with zod. Unknown keys are rejected with their path, identifiers
 * are validated (no SQL through a table or column name), URLs may be `env:VAR` references that are
 * resolved only when a command needs the connection.
 */
import { z } from 'zod';
import { IDENTIFIER } from './target.js';

const Identifier = z.string().regex(IDENTIFIER, 'must be a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63)');
const TableName = z
  .string()
  .regex(
    /^([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$/,
    'must be table or schema.table, plain SQL identifiers',
  );
/** A connection URL, `env:VAR`, or `embedded:<database>` (a database on the workspace's embedded server). */
const UrlRef = z
  .string()
  .min(1)
  .refine(
    (s) =>
      /^env:[A-Za-z_][A-Za-z0-9_]*$/.test(s) ||
      /^embedded:[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(s) ||
      /^postgres(ql)?:\/\//.test(s),
    'must be postgres://…, env:VAR or embedded:<database>',
  );
const Name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-"');

export const TargetConfig = z
  .strictObject({
    url: UrlRef,
    table: TableName,
    key: z.array(Identifier).min(1),
    columns: z.array(Identifier).min(1),
    lifecycle: z.strictObject({ column: Identifier, value: z.string() }).optional(),
  })
  .superRefine((t, ctx) => {
    const all = [...t.key, ...t.columns, ...(t.lifecycle ? [t.lifecycle.column] : [])];
    const seen = new Set<string>();
    all.forEach((c) => {
      if (seen.has(c))
        ctx.addIssue({
          code: 'custom',
          path: ['columns'],
          message: `column ${c} listed twice (key, columns and lifecycle must not overlap)`,
        });
      seen.add(c);
    });
  });
export type TargetConfig = z.infer<typeof TargetConfig>;

/** Durations like `24h`, `30m`, `3600s`, `7d`, or a number of seconds. */
const Duration = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d+[smhd]$/, 'a duration like 30m, 24h or 7d'),
]);

/** The policy a governance file gets for each field it leaves out (the one place it is defined). */
export const DEFAULT_POLICY = {
  requiredApprovals: 2,
  approvalTtl: '24h',
  requireDryRun: true,
  maxRows: 10_000,
} as const;

/** The policy as written in a governance file (recorded with the TTL in seconds). */
export const PolicyInput = z.strictObject({
  maxRows: z.number().int().positive().default(DEFAULT_POLICY.maxRows),
  requiredApprovals: z.number().int().min(1).default(DEFAULT_POLICY.requiredApprovals),
  approvalTtl: Duration.default(DEFAULT_POLICY.approvalTtl),
  requireDryRun: z.boolean().default(DEFAULT_POLICY.requireDryRun),
  roles: z.array(Name).optional(),
});

/** Keys that used to live in the config and moved to the store's governance (DESIGN §7). */
export const MOVED_TO_GOVERNANCE = ['approvers', 'policy'] as const;

/** The governance trust root (DESIGN §7): the SHA-256 of the store's governance genesis. */
export const TrustRoot = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'the 64-hex trust root printed by `cutter governance show`');

export const CutterConfig = z.strictObject({
  store: z.strictObject({ url: UrlRef.optional() }).default({}),
  targets: z.record(Name, TargetConfig).default({}),
  trust: z.strictObject({ root: TrustRoot.optional() }).default({}),
  backup: z.strictObject({ recipients: z.array(z.string().min(1)).default([]) }).default({ recipients: [] }),
  execution: z.strictObject({ enabled: z.boolean().default(false) }).default({ enabled: false }),
});
export type CutterConfig = z.infer<typeof CutterConfig>;

/** Seconds in a configured duration. */
export function durationSeconds(d: number | string): number {
  if (typeof d === 'number') return d;
  const n = Number(d.slice(0, -1));
  const unit = d.slice(-1);
  const factor = unit === 's' ? 1 : unit === 'm' ? 60 : unit === 'h' ? 3600 : 86400;
  return n * factor;
}
