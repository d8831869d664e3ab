/**
 * Turns zod issues into one operator-readable line per problem, each naming its path the way the
 * operator wrote it: `changes[3].upsert.id: required`.
 */
import type { z } from 'zod';

/** `a.b[3].c` from a zod issue path. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

/** One line per issue: `path: message`. Unknown keys name each key's full path. */
export function formatIssues(error: z.ZodError, prefix = ''): string[] {
  const lines: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${prefix}${formatPath([...issue.path, key])}: unknown key`);
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      lines.push(`${prefix}${formatPath(issue.path)}: ${unionMessage(issue)}`);
    } else {
      const missing = issue.code === 'invalid_type' && issue.message.includes('received undefined');
      lines.push(`${prefix}${formatPath(issue.path)}: ${missing ? 'required' : issue.message}`);
    }
  }
  return lines;
}

function unionMessage(issue: z.core.$ZodIssueInvalidUnion): string {
  // For a change entry, say what was expected rather than every branch's complaint.
  const keys = issue.errors.flatMap((branch) => branch.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys : [])));
  if (keys.length > 0)
    return `expected { upsert: {...} } or { delete: {...} }, got key(s) ${[...new Set(keys)].join(', ')}`;
  return 'expected { upsert: {...} } or { delete: {...} }';
}
