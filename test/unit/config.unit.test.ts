import { describe, expect, it } from 'vitest';
import { parseConfig, targetSpec } from '../../src/config/load.js';
import { parsePlan } from '../../src/config/plan.js';
import { InvalidInputError } from '../../src/errors.js';

const CONFIG = `
targets:
  kb:
    url: env:KB_URL
    table: public.documents
    key: [id]
    columns: [title, body]
    lifecycle: { column: status, value: published }
`;

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return (err as Error).message;
  }
  throw new Error('expected an InvalidInputError');
}

describe('config', () => {
  it('accepts a valid config and fills defaults', () => {
    const c = parseConfig(CONFIG);
    expect(c.execution.enabled).toBe(false);
    expect(c.trust).toEqual({});
    expect(c.targets.kb?.key).toEqual(['id']);
  });

  it('refuses approvers and policy: they moved to governance', () => {
    const msg = messageOf(() =>
      parseConfig(CONFIG + 'policy: { maxRows: 3 }\napprovers: { alice: { publicKey: x } }\n'),
    );
    expect(msg).toContain("approvers: moved to the store's governance");
    expect(msg).toContain("policy: moved to the store's governance");
  });

  it('rejects unknown keys with their path', () => {
    expect(messageOf(() => parseConfig(CONFIG + 'extra: 1\n'))).toMatchInlineSnapshot(
      `"config cutter.config.yaml: extra: unknown key"`,
    );
    expect(messageOf(() => parseConfig(CONFIG.replace('key: [id]', 'key: [id]\n    colour: red')))).toContain(
      'targets.kb.colour: unknown key',
    );
  });

  it('refuses hostile identifiers', () => {
    const msg = messageOf(() => parseConfig(CONFIG.replace('public.documents', '"documents; DROP TABLE x"')));
    expect(msg).toContain('targets.kb.table: must be table or schema.table');
    expect(messageOf(() => parseConfig(CONFIG.replace('[title, body]', '[title, "body--"]')))).toContain(
      'targets.kb.columns[1]',
    );
  });

  it('resolves env: URLs only when asked, naming the variable when unset', () => {
    const c = parseConfig(CONFIG);
    expect(targetSpec(c, 'kb', { KB_URL: 'postgres://u@h/db' }).url).toBe('postgres://u@h/db');
    expect(messageOf(() => targetSpec(c, 'kb', {}))).toBe('targets.kb.url: environment variable KB_URL is not set');
    expect(messageOf(() => targetSpec(c, 'nope', {}))).toContain('unknown target "nope"');
  });
});

describe('plan', () => {
  const config = parseConfig(CONFIG);
  const ok = `target: kb\nreason: r\nchanges:\n  - upsert: { id: A, title: t, body: b }\n  - delete: { id: B }\n`;

  it('resolves id and author', () => {
    const plan = parsePlan(ok, config, { actor: 'erin', now: new Date('2026-11-25T00:00:00Z') });
    expect(plan.author).toBe('erin');
    expect(plan.id).toMatch(/^kb-20261125-[0-9a-f]{6}$/);
  });

  it('names the path of a missing key column', () => {
    const bad = ok.replace('{ id: A, title: t, body: b }', '{ title: t, body: b }');
    expect(messageOf(() => parsePlan(bad, config, { actor: 'erin' }))).toBe(
      'plan plan: changes[0].upsert.id: required',
    );
  });

  it('refuses unknown columns, duplicate keys, unknown targets, too many rows and unknown top-level keys', () => {
    expect(messageOf(() => parsePlan(ok.replace('body: b', 'body: b, x: 1'), config, { actor: 'e' }))).toContain(
      'changes[0].upsert.x: unknown column',
    );
    expect(messageOf(() => parsePlan(ok.replace('id: B', 'id: A'), config, { actor: 'e' }))).toContain(
      'changes[1].delete: key {"id":"A"} already changed by changes[0]',
    );
    expect(messageOf(() => parsePlan(ok.replace('target: kb', 'target: zz'), config, { actor: 'e' }))).toContain(
      'target: unknown target "zz"',
    );
    const many = ok + '  - delete: { id: C }\n  - delete: { id: D }\n';
    expect(messageOf(() => parsePlan(many, config, { actor: 'e', maxRows: 3 }))).toContain(
      'changes: 4 rows exceed policy.maxRows 3',
    );
    expect(messageOf(() => parsePlan('colour: red\n' + ok, config, { actor: 'e' }))).toContain('colour: unknown key');
    expect(messageOf(() => parsePlan(ok.replace('- delete:', '- remove:'), config, { actor: 'e' }))).toContain(
      'changes[1]: expected { upsert',
    );
  });

  it('keeps hostile values as data', () => {
    const text = JSON.stringify({
      target: 'kb',
      reason: 'r',
      changes: [{ upsert: { id: "x'; DROP TABLE t; --", title: '\u{1F600}"<b>', body: 'b' } }],
    });
    const plan = parsePlan(text, config, { actor: 'e' });
    expect(plan.changes?.[0]).toEqual({ upsert: { id: "x'; DROP TABLE t; --", title: '\u{1F600}"<b>', body: 'b' } });
  });

  it('refuses NUL characters, which PostgreSQL cannot store, naming the field', () => {
    const text = JSON.stringify({
      target: 'kb',
      reason: 'r',
      changes: [{ upsert: { id: 'a', title: 'x\u0000y', body: 'b' } }],
    });
    expect(messageOf(() => parsePlan(text, config, { actor: 'e' }))).toContain(
      'changes[0].upsert.title: contains a NUL character',
    );
  });
});
