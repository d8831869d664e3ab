/** Reading a JSON file an operator or auditor hands cutter, validated by its schema. */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { InvalidInputError } from '../errors.js';
import { formatIssues } from './issues.js';

/** Parses `file` as JSON and validates it; InvalidInputError (exit 2) naming `label`, the file and the fields. */
export function readJsonFile<S extends z.ZodType>(file: string, schema: S, label: string): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InvalidInputError(`${label} ${file}: not a JSON file (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    throw new InvalidInputError(`${label} ${file}: ${formatIssues(parsed.error).slice(0, 5).join('; ')}`);
  return parsed.data;
}
