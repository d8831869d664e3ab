/**
 * Offline audit bundles (issue #14): exported from a real store, verified by the CLI with no store
 * reachable, from the trust root alone; and a property: a bundle verifies iff it is untouched.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bundle, verifyBundle } from '../../src/audit/bundle.js';
import { cutter } from '../support/cli.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
let file: string;
const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  cutter(args, { cwd: ws.dir, env: { ...ws.env, ...env } });
/** Anywhere else, with no store reachable (a closed port) and no config. */
const offline = (args: string[]) =>
  cutter(args, {
    cwd: mkdtempSync(path.join(os.tmpdir(), 'cutter-auditor-')),
    env: { CUTTER_STORE_URL: 'postgres://nobody@127.0.0.1:1/none', CUTTER_KEYS_DIR: '/nonexistent' },
  });

beforeAll(async () => {
  ws = await testWorkspace({ rows: 20 });
  ws.writePlan('b1', bigPlan('b1', 3, 20));
  for (const args of [
    ['plan', path.join(ws.dir, 'b1.yaml'), '--as', 'erin'],
    ['approve', 'b1', '--as', 'alice'],
    ['approve', 'b1', '--as', 'bob'],
    ['run', 'b1', '--dry-run', '--as', 'erin'],
    ['run', 'b1', '--live', '--as', 'erin'],
    ['killswitch', 'engage', '--reason', 'after', '--as', 'alice'],
  ]) {
    expect((await run(args)).code).toBe(0);
  }
  file = path.join(ws.dir, 'b1.bundle.json');
});
afterAll(async () => ws?.drop());

describe('audit bundles', () => {
  it('refuses to export a cut no checkpoint covers, then exports one that is', async () => {
    const early = await run(['export', 'b1', '--out', file]);
    expect(early.code).toBe(3);
    expect(early.stderr).toContain('record one first');
    expect((await run(['checkpoint', '--as', 'bob'])).code).toBe(0);
    const r = await run(['export', 'b1', '--out', file, '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ cutId: 'b1', events: 16, checkpoint: 1 });
  });

  it('verifies offline from the trust root alone, and builds the report from the bundle', async () => {
    const ok = await offline(['verify', file, '--trust-root', ws.root, '--json']);
    expect(ok.json.violations).toEqual([]);
    expect(ok.code).toBe(0);
    expect(ok.json).toMatchObject({ ok: true, cutId: 'b1', events: 16, coveredBy: { version: 1 } });
    const noRoot = await offline(['verify', file]);
    expect(noRoot.code).toBe(2);
    expect(noRoot.stderr).toContain('--trust-root: required');
    const wrong = await offline(['verify', file, '--trust-root', 'e'.repeat(64), '--json']);
    expect(wrong.code).toBe(4);
    expect(wrong.json.violations.map((v: { rule: string }) => v.rule)).toContain('trust-root');
    const report = await offline(['report', 'b1', '--from', file, '--trust-root', ws.root, '--format', 'json']);
    expect(report.code).toBe(0);
    expect(JSON.parse(report.stdout)).toMatchObject({
      cut: { cutId: 'b1', state: 'completed' },
      trust: { root: ws.root, checked: true },
    });
  });

  it('names a changed byte, a dropped event and a swapped governance', async () => {
    const original = readFileSync(file, 'utf8');
    const write = (name: string, text: string) => {
      const f = path.join(ws.dir, name);
      writeFileSync(f, text);
      return f;
    };
    const byte = await offline([
      'verify',
      write('byte.json', original.replace('"reason":"test cut"', '"reason":"test cuT"')),
      '--trust-root',
      ws.root,
      '--json',
    ]);
    expect(byte.code).toBe(4);
    expect(byte.json.violations.map((v: { rule: string }) => v.rule)).toEqual(
      expect.arrayContaining(['hash-chain', 'signature']),
    );
    const b = JSON.parse(original);
    b.streams.cut.pop();
    const dropped = await offline([
      'verify',
      write('dropped.json', JSON.stringify(b)),
      '--trust-root',
      ws.root,
      '--json',
    ]);
    expect(dropped.code).toBe(4);
    expect(
      dropped.json.violations.map((v: { rule: string; message: string }) => `${v.rule}: ${v.message}`).join('\n'),
    ).toContain('an event dropped');
    // Another store's governance (another workspace, another genesis) swapped in.
    const other = await testWorkspace({ rows: 1 });
    try {
      const g = JSON.parse(original);
      const { openStore } = await import('../../src/store/index.js');
      const store = await openStore(other.store.url);
      g.streams.governance = await store.readStream('governance');
      await store.close();
      const swapped = await offline([
        'verify',
        write('swapped.json', JSON.stringify(g)),
        '--trust-root',
        ws.root,
        '--json',
      ]);
      expect(swapped.code).toBe(4);
      expect(swapped.json.violations.map((v: { rule: string }) => v.rule)).toContain('trust-root');
    } finally {
      await other.drop();
    }
  });

  it('is bound to a newer kept checkpoint: an older (consistent) bundle is refused against it', async () => {
    expect((await run(['killswitch', 'release', '--as', 'dana'])).code).toBe(0);
    expect((await run(['revert', 'b1', '--live', '--as', 'erin'])).code).toBe(0);
    const kept = path.join(ws.dir, 'kept.json');
    expect((await run(['checkpoint', '--out', kept, '--as', 'alice'])).code).toBe(0);
    const stale = await offline(['verify', file, '--trust-root', ws.root, '--checkpoint', kept, '--json']);
    expect(stale.code).toBe(4);
    expect(stale.json.violations.map((v: { message: string }) => v.message).join()).toContain(
      'older than the kept checkpoint 2',
    );
    const fresh = path.join(ws.dir, 'b1-fresh.bundle.json');
    expect((await run(['export', 'b1', '--out', fresh])).code).toBe(0);
    const ok = await offline(['verify', fresh, '--trust-root', ws.root, '--checkpoint', kept, '--json']);
    expect(ok.json.violations).toEqual([]);
    expect(ok.json.events).toBe(18);
  });

  it('verifies iff untouched (property over edits of every kind to every stream)', () => {
    const bundle = Bundle.parse(JSON.parse(readFileSync(file, 'utf8')));
    expect(verifyBundle(bundle, ws.root).violations).toEqual([]);
    const streams = ['cut', 'governance', 'killswitch', 'checkpoints'] as const;
    const seen = new Map<string, number>();
    const edit = fc.record({
      stream: fc.constantFrom(...streams),
      index: fc.nat(),
      kind: fc.constantFrom(
        'data',
        'type',
        'actor',
        'hash',
        'prevHash',
        'recordedAt',
        'signature',
        'drop',
        'swap',
        'truncate',
        'version',
      ),
      salt: fc.string({ minLength: 1, maxLength: 8 }),
    });
    fc.assert(
      fc.property(edit, ({ stream, index, kind, salt }) => {
        const b = structuredClone(bundle) as Bundle;
        const events = b.streams[stream] as Bundle['streams']['cut'];
        const i = index % events.length;
        const e = events[i]!;
        switch (kind) {
          case 'data':
            e.data = { ...(e.data as object), tampered: salt };
            break;
          case 'type':
            e.type = `${e.type}${salt}`;
            break;
          case 'actor':
            e.metadata = { ...e.metadata, actor: `${String(e.metadata.actor)}${salt}` };
            break;
          case 'hash':
            e.hash = e.hash.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
            break;
          case 'prevHash':
            e.prevHash = (e.prevHash ?? '').concat(salt);
            break;
          case 'recordedAt':
            e.recordedAt = new Date(Date.parse(e.recordedAt) + 1).toISOString();
            break;
          case 'signature':
            e.metadata = { ...e.metadata, signature: { ...(e.metadata.signature as object), governance: 2 } };
            break;
          case 'drop':
            events.splice(i, 1);
            break;
          case 'swap':
            if (events.length > 1)
              [events[i], events[(i + 1) % events.length]] = [events[(i + 1) % events.length]!, events[i]!];
            else events.pop();
            break;
          case 'truncate':
            events.splice(i);
            break;
          case 'version':
            e.version += 1;
            break;
        }
        seen.set(`${stream}:${kind}`, (seen.get(`${stream}:${kind}`) ?? 0) + 1);
        const r = verifyBundle(b, ws.root);
        return !r.ok && r.violations.length > 0;
      }),
      { numRuns: 600, seed: 20261130 },
    );
    // The generator reached every kind of edit on every stream.
    expect(seen.size).toBe(streams.length * 11);
  });
});
