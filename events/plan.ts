/**
 * The cut plan: versioned data an operator writes (YAML or JSON) and every later event is bound to
 * through its hash. Structural validation only; per-target checks (known columns, key coverage,
 * maxRows) live in src/config because they need the configuration.
 */
import { z } from 'zod';
import { hashOf } from './canonical.js';

/** A column value: any JSON value. Values are data, whatever they contain. */
export const ColumnValue: z.ZodType<unknown> = z.json();

export const RowValues = z.record(z.string().min(1), ColumnValue);

export const UpsertChange = z.strictObject({ upsert: RowValues });
export const DeleteChange = z.strictObject({ delete: RowValues });
export const Change = z.union([UpsertChange, DeleteChange]);
export type Change = z.infer<typeof Change>;

export const CUT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const CutPlanInput = z.strictObject({
  id: z.string().regex(CUT_ID_PATTERN, 'letters, digits, ".", "_" or "-", at most 128').optional(),
  target: z.string().min(1),
  author: z.string().min(1).optional(),
  reason: z.string().min(1),
  changes: z.array(Change).min(1),
});
export type CutPlanInput = z.infer<typeof CutPlanInput>;

/** A plan with its id and author resolved: what CutPlanned records and the plan hash covers. */
export const CutPlan = CutPlanInput.extend({
  id: z.string().regex(CUT_ID_PATTERN),
  author: z.string().min(1),
});
export type CutPlan = z.infer<typeof CutPlan>;

/** The plan hash: SHA-256 of the plan's canonical JSON. */
export function planHash(plan: CutPlan): string {
  return hashOf(plan);
}
