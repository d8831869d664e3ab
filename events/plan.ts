/**
 * The cut plan: versioned data an operator writes (YAML or JSON) and every later event is bound to
 * through its hash. Structural validation only; per-target checks (known columns, key coverage,
 * maxRows) live in src/config because they need the configuration.
 *
 * Small plans carry their changes inline (`changes`). Large ones name a file of changes, one JSON
 * change per line (`changesFile`); the recorded plan then carries the file's SHA-256 and counts
 * (`changeSet`) and the bytes live content-addressed in the store, so events stay small and the
 * plan hash still covers every change.
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

/** A change file as recorded: its bytes' SHA-256 (the blob id in the store) and what it holds. */
export const ChangeSet = z.strictObject({
  format: z.literal('ndjson'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().positive(),
  count: z.number().int().positive(),
  upserts: z.number().int().min(0),
  deletes: z.number().int().min(0),
});
export type ChangeSet = z.infer<typeof ChangeSet>;

const exactlyOne = (a: string, b: string) => (p: Record<string, unknown>, ctx: z.core.$RefinementCtx) => {
  if ((p[a] === undefined) === (p[b] === undefined))
    ctx.addIssue({ code: 'custom', path: [a], message: `give exactly one of ${a} and ${b}` });
};

export const CutPlanInput = z
  .strictObject({
    id: z.string().regex(CUT_ID_PATTERN, 'letters, digits, ".", "_" or "-", at most 128').optional(),
    target: z.string().min(1),
    author: z.string().min(1).optional(),
    reason: z.string().min(1),
    changes: z.array(Change).min(1).optional(),
    changesFile: z.string().min(1).optional(),
  })
  .superRefine(exactlyOne('changes', 'changesFile'));
export type CutPlanInput = z.infer<typeof CutPlanInput>;

/** A plan with its id and author resolved: what CutPlanned records and the plan hash covers. */
export const CutPlan = z
  .strictObject({
    id: z.string().regex(CUT_ID_PATTERN),
    target: z.string().min(1),
    author: z.string().min(1),
    reason: z.string().min(1),
    changes: z.array(Change).min(1).optional(),
    changeSet: ChangeSet.optional(),
  })
  .superRefine(exactlyOne('changes', 'changeSet'));
export type CutPlan = z.infer<typeof CutPlan>;

/** The plan hash: SHA-256 of the plan's canonical JSON. */
export function planHash(plan: CutPlan): string {
  return hashOf(plan);
}

/** How many changes the plan holds, inline or in its change set. */
export function changeCount(plan: Pick<CutPlan, 'changes' | 'changeSet'>): number {
  return plan.changes?.length ?? plan.changeSet?.count ?? 0;
}
