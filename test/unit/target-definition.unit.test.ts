/**
 * The configured target against the one a cut was planned for (src/config/target.ts): what a run
 * compares before it writes. Each field that changes what the cut writes is named; spellings of the
 * same table are the same table; a cut planned before the definition was recorded is held to its
 * table alone.
 */
import { describe, expect, it } from 'vitest';
import { targetDefinition, targetDefinitionProblems, type TargetSpec } from '../../src/config/target.js';

const spec: TargetSpec = {
  name: 'kb',
  url: 'postgres://u:secret@db/x',
  table: 'public.documents',
  key: ['id'],
  columns: ['title', 'body'],
  lifecycle: { column: 'status', value: 'published' },
};
const planned = { target: 'kb', table: spec.table, definition: targetDefinition(spec) };

describe('targetDefinitionProblems', () => {
  it('finds nothing when the config is the planned target, however the table and columns are spelled', () => {
    expect(targetDefinitionProblems(planned, spec)).toEqual([]);
    expect(targetDefinitionProblems(planned, { ...spec, table: 'documents', columns: ['body', 'title'] })).toEqual([]);
    expect(targetDefinitionProblems({ ...planned, table: 'documents' }, spec)).toEqual([]);
  });

  it('names each field that differs', () => {
    const cases: [Partial<TargetSpec>, RegExp][] = [
      [
        { table: 'public.documents2' },
        /table is public\.documents2 in the config; the cut was planned for public\.documents/,
      ],
      [{ table: 'other.documents' }, /table is other\.documents/],
      [{ key: ['id', 'title'] }, /key is id, title in the config; the cut was planned with id/],
      [{ columns: ['title'] }, /columns are title in the config; the cut was planned with title, body/],
      [{ columns: ['title', 'body', 'revision'] }, /columns are title, body, revision/],
      [{ lifecycle: { column: 'revision', value: 'published' } }, /lifecycle is revision = "published" in the config/],
      [
        { lifecycle: { column: 'status', value: 'draft' } },
        /lifecycle is status = "draft" in the config; the cut was planned with status = "published"/,
      ],
      [{ lifecycle: undefined }, /lifecycle is \(none\) in the config/],
    ];
    for (const [change, message] of cases) {
      const problems = targetDefinitionProblems(planned, { ...spec, ...change });
      expect(problems, JSON.stringify(change)).toHaveLength(1);
      expect(problems[0]).toMatch(message);
      expect(problems[0]).not.toContain('secret');
    }
    const noLifecycle = { ...planned, definition: { ...planned.definition, lifecycle: null } };
    expect(targetDefinitionProblems(noLifecycle, spec)[0]).toMatch(/planned with \(none\)/);
  });

  it('holds a cut planned before the definition was recorded to its table alone', () => {
    const old = { target: 'kb', table: 'public.documents' };
    expect(targetDefinitionProblems(old, { ...spec, key: ['title'], lifecycle: undefined })).toEqual([]);
    expect(targetDefinitionProblems(old, { ...spec, table: 'documents2' })).toHaveLength(1);
  });

  it('records the definition without the URL', () => {
    expect(JSON.stringify(targetDefinition(spec))).not.toContain('secret');
    expect(targetDefinition({ ...spec, lifecycle: undefined }).lifecycle).toBeNull();
  });
});
