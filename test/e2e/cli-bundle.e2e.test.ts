/**
 * The CLI bundle (scripts/build-cli.ts, run by bin/cutter). Start-up (issue #18): a command that
 * opens the store loads no undici (pg's Cloudflare probe) and no cosmiconfig (@databases/pg's
 * config search), with dependency code bundled unchanged. Charset: the bundle cannot change
 * recorded data (issue #16): esbuild writes the bundle as
 * ASCII (non-ASCII characters in its code become \u escapes) and bin/cutter reads it as latin1, so
 * a string that reaches the store through the bundled CLI must be recorded byte for byte as the
 * library (src, loaded as UTF-8 modules) records it. The text covers accents in both Unicode normal
 * forms, CJK and a character outside the BMP; the bundle's own non-ASCII literals (its \u escapes)
 * are checked in the CLI's output.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCut } from '../../src/cuts/plan.js';
import { connect, sql } from '../../src/store/connection.js';
import { BIN, cutter } from '../support/cli.js';
import { testWorkspace, type TestWorkspace } from '../support/workspace.js';

// Precomposed and decomposed é (NFC vs NFD must both survive), a dash, CJK, an emoji (surrogate pair).
const TEXT = 'Gr\u00fc\u00dfe caf\u00e9 cafe\u0301 \u2014 \u65e5\u672c\u8a9e \u2713 \u{1f642}';

let ws: TestWorkspace;
beforeAll(async () => {
  ws = await testWorkspace({ rows: 4 });
});
afterAll(async () => ws?.drop());

/** The recorded bytes (PostgreSQL's own UTF-8 encoding of the stored JSON) of a stream's events. */
async function recorded(stream: string): Promise<{ type: string; data: string }[]> {
  const db = connect(ws.store.url, { poolSize: 1 });
  try {
    const rows = await db.query(
      sql`SELECT type, encode(convert_to(data::text, 'UTF8'), 'hex') AS data FROM cutter.events
          WHERE stream_id = ${stream} ORDER BY version`,
    );
    return rows.map((r: { type: string; data: string }) => ({
      type: r.type,
      data: Buffer.from(r.data, 'hex').toString('utf8'),
    }));
  } finally {
    await db.dispose();
  }
}

describe('start-up', () => {
  it('status opens the store without loading undici or reading a pg config', async () => {
    // Preloaded into the CLI process: lists Node's internal modules and the files loaded at exit.
    const probe = path.join(ws.dir, 'probe.cjs');
    writeFileSync(
      probe,
      `const loaded = [];
       const Module = require('node:module');
       const load = Module._load;
       Module._load = function (request, ...rest) { loaded.push(request); return load.call(this, request, ...rest); };
       process.on('exit', () => process.stderr.write(JSON.stringify({ internal: process.moduleLoadList, loaded })));`,
    );
    const r = await cutter(['status', '--json'], {
      cwd: ws.dir,
      env: { ...ws.env, NODE_OPTIONS: `--require ${probe}` },
    });
    expect(r.code).toBe(0);
    expect(r.json.killSwitch).toBeDefined();
    const seen = JSON.parse(r.stderr) as { internal: string[]; loaded: string[] };
    expect(seen.internal.length).toBeGreaterThan(50);
    expect(seen.internal.filter((m) => m.includes('undici'))).toEqual([]);
    expect(seen.loaded.filter((m) => /cosmiconfig|pg-config|undici/.test(m))).toEqual([]);
    // What the probe would catch: the library path (Node's loader, no bundle) loads undici.
    const debug = await cutter(['status', '--json', '--debug'], {
      cwd: ws.dir,
      env: { ...ws.env, NODE_OPTIONS: `--require ${probe}` },
    });
    expect(debug.code).toBe(0);
    const viaLoader = JSON.parse(debug.stderr) as { internal: string[] };
    expect(viaLoader.internal.some((m) => m.includes('undici'))).toBe(true);
  });
});

describe('the bundled CLI and the library record the same bytes', () => {
  it('the bundle is ASCII, and it is what bin/cutter runs', () => {
    const bundle = readFileSync(new URL('../../dist/cli/cutter.cjs', import.meta.url));
    expect(bundle.every((b) => b < 0x80)).toBe(true);
    expect(readFileSync(BIN, 'utf8')).toContain("readFileSync(BUNDLE, 'latin1')");
  });

  it('a plan with non-ASCII text: the same event data, the text unchanged', async () => {
    const plan = (id: string) => ({
      id,
      target: 'kb',
      author: 'erin',
      reason: TEXT,
      changes: [{ upsert: { id: 'KB-0001', title: TEXT, body: `${TEXT}\n${TEXT.normalize('NFD')}` } }],
    });
    const cli = await cutter(['plan', ws.writePlan('cs-cli', plan('cs-cli')), '--as', 'erin', '--json'], {
      cwd: ws.dir,
      env: ws.env,
    });
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const lib = await ws.as('erin', (s) => planCut(s, ws.writePlan('cs-lib', plan('cs-lib'))));
    const [viaCli, viaLib] = [await recorded('cut-cs-cli'), await recorded('cut-cs-lib')];
    expect(viaCli.length).toBeGreaterThan(0);
    // Equal but for the cut's id, what is derived from it (the plan hash) and the time.
    const same = (events: { type: string; data: string }[], id: string, hash: string) =>
      events.map((e) => ({
        type: e.type,
        data: e.data
          .replaceAll(id, 'ID')
          .replaceAll(hash, 'HASH')
          .replace(/"at": "[^"]+"/, '"at": "AT"'),
      }));
    expect(same(viaCli, 'cs-cli', cli.json.planHash)).toEqual(same(viaLib, 'cs-lib', lib.planHash));
    const data = JSON.parse(viaCli[0]!.data);
    expect(JSON.stringify(data)).toContain(JSON.stringify(TEXT).slice(1, -1));
    expect(Buffer.from(JSON.stringify(data)).includes(Buffer.from(TEXT.normalize('NFD')))).toBe(true);
  });

  it("the bundle's own non-ASCII literals come out as written (a report's title dash)", async () => {
    const r = await cutter(['report', 'cs-cli', '--format', 'md'], { cwd: ws.dir, env: ws.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('# Cut cs-cli \u2014 audit report');
    expect(r.stdout).toContain(TEXT);
  });

  it('a kill-switch reason with non-ASCII text is recorded as given', async () => {
    const r = await cutter(['killswitch', 'engage', '--reason', TEXT, '--as', 'alice'], { cwd: ws.dir, env: ws.env });
    expect(r.code).toBe(0);
    const events = await recorded('killswitch');
    expect(JSON.parse(events.at(-1)!.data).reason).toBe(TEXT);
  });
});
