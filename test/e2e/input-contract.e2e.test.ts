/**
 * The CLI's contract for bad input, from a sweep of every command with hostile and malformed input
 * (fifth session): exit 2 naming the field, one line, and nothing recorded is lost — usage errors of
 * subcommands, empty values that used to fall back to a default, backup recipients checked before a
 * live run records anything, integers a YAML or JSON number cannot hold, an empty kill-switch reason.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { connect, sql } from '../../src/store/connection.js';
import { removeEmbedded } from '../../src/store/embedded.js';
import { cutter } from '../support/cli.js';
import { testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  cutter(args, { cwd: ws.dir, env: { ...ws.env, ...env } });
const configFile = () => path.join(ws.dir, 'cutter.config.yaml');

async function storeQuery(q: ReturnType<typeof sql>): Promise<any[]> {
  const db = connect(ws.store.url, { poolSize: 1 });
  try {
    return await db.query(q);
  } finally {
    await db.dispose();
  }
}

/** A config derived from the workspace's, written beside it (same workspace root). */
function derivedConfig(name: string, edit: (c: any) => void): string {
  const c = parse(readFileSync(configFile(), 'utf8'));
  edit(c);
  const file = path.join(ws.dir, name);
  writeFileSync(file, stringify(c));
  return file;
}

/** Plans, approves (alice, bob) and dry-runs a plan file; returns nothing, asserts each step. */
async function readyCut(file: string, cutId: string, config?: string): Promise<void> {
  const cfg = config ? ['--config', config] : [];
  for (const args of [
    ['plan', file, '--as', 'erin'],
    ['approve', cutId, '--as', 'alice'],
    ['approve', cutId, '--as', 'bob'],
    ['run', cutId, '--dry-run', '--as', 'erin'],
  ]) {
    const r = await run([...cfg, ...args]);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  }
}

beforeAll(async () => {
  ws = await testWorkspace({ rows: 20 });
  // Extra target tables: a bigint key, and an integer content column.
  await ws.target.query`CREATE TABLE public.big (id bigint PRIMARY KEY, title text NOT NULL)`;
  await ws.target.query`INSERT INTO public.big VALUES (9007199254740992, 'two-pow-53'), (9007199254740993, 'plus-one')`;
  await ws.target.query`CREATE TABLE public.counts (id text PRIMARY KEY, n integer NOT NULL)`;
  await ws.target.query`INSERT INTO public.counts VALUES ('a', 1)`;
  const c = parse(readFileSync(configFile(), 'utf8'));
  c.targets.big = { url: 'env:KB_URL', table: 'public.big', key: ['id'], columns: ['title'] };
  c.targets.counts = { url: 'env:KB_URL', table: 'public.counts', key: ['id'], columns: ['n'] };
  writeFileSync(configFile(), stringify(c));
});
afterAll(async () => ws?.drop());

describe('usage errors of subcommands', () => {
  it.each([
    [['approve']],
    [['killswitch', 'engage', '--as', 'dana']],
    [['export', 'x']],
    [['status', '--bogus']],
    [['report', 'x', '--format', 'pdf']],
    [['run', 'x', '--dry-run', '--live']],
  ])('cutter %j exits 2 (bad input), like `cutter frobnicate`', async (args) => {
    const r = await run(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^error: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('--json errors are JSON on stdout', () => {
  it.each([
    [['--json', '--store', 'postgres://u:pw@127.0.0.1/x', 'status'], 'a password on the command line'],
    [['--json', 'run', 'x', '--dry-run', '--live'], "option '--dry-run' cannot be used with option '--live'"],
  ])('cutter %j', async (args, message) => {
    const r = await run(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.json?.error, `stdout: ${JSON.stringify(r.stdout)}`).toMatchObject({ code: 'InvalidInput', exitCode: 2 });
    expect(r.json.error.message).toContain(message);
  });
});

describe('empty values are bad input, never a silent default', () => {
  it('CUTTER_STORE_URL="" does not override store.url and fall back to an embedded store', async () => {
    const cfg = derivedConfig('cfg-store.yaml', (c) => (c.store = { url: 'env:PROD_STORE' }));
    const engaged = await run(['killswitch', 'engage', '--reason', 'incident', '--as', 'dana']);
    expect(engaged.code, engaged.stderr).toBe(0);
    try {
      const r = await run(['--config', cfg, 'killswitch', 'status', '--json'], {
        CUTTER_STORE_URL: '',
        PROD_STORE: ws.store.url,
      });
      expect(r.code, r.stdout).toBe(2);
      expect(r.stderr).toContain('CUTTER_STORE_URL: set but empty');
      expect(existsSync(path.join(ws.dir, '.cutter', 'embedded.json'))).toBe(false);
    } finally {
      await run(['killswitch', 'release', '--as', 'dana']);
      await removeEmbedded(path.join(ws.dir, '.cutter'));
      rmSync(path.join(ws.dir, '.cutter'), { recursive: true, force: true });
    }
  });

  it.each([['--as'], ['--store'], ['--config']])(
    '%s "" is refused (exit 2), not replaced by the default',
    async (flag) => {
      const r = await run([flag, '', 'status']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${flag}: empty`);
    },
  );
});

describe('a bad backup.recipients is bad input, not a failed cut', () => {
  it.each([
    ['a missing recipient file', (c: any) => (c.backup.recipients = ['keys/no-such.pub.asc'])],
    ['no recipients (the `cutter init` default)', (c: any) => (c.backup.recipients = [])],
  ])('%s: exit 2 before LiveRunStarted; the approved cut can still run', async (what, edit) => {
    const id = `rcpt-${what.length}`;
    const plan = path.join(ws.dir, `${id}.yaml`);
    writeFileSync(
      plan,
      stringify({ id, target: 'kb', reason: 'r', changes: [{ upsert: { id: 'KB-0001', title: 'n', body: 'n' } }] }),
    );
    await readyCut(plan, id);
    const cfg = derivedConfig(`cfg-${id}.yaml`, edit);
    const r = await run(['--config', cfg, 'run', id, '--live', '--as', 'erin']);
    const status = await run(['status', id, '--json']);
    expect(status.stdout).not.toContain('"failed"');
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('backup.recipients');
    const events = await storeQuery(
      sql`SELECT type FROM cutter.events WHERE stream_id = ${`cut-${id}`} ORDER BY version`,
    );
    expect(events.map((e) => e.type)).not.toContain('LiveRunStarted');
    // Nothing lost: with the config put right the approved cut runs.
    const ok = await run(['run', id, '--live', '--as', 'erin']);
    expect(ok.code, ok.stderr).toBe(0);
  });
});

describe('numbers a YAML or JSON number cannot hold exactly', () => {
  it('a bigint key above 2^53 is refused at plan time (exit 2) naming the field, never rounded to another row', async () => {
    const plan = path.join(ws.dir, 'big.yaml');
    writeFileSync(
      plan,
      'id: big-1\ntarget: big\nreason: retitle 9007199254740993\nchanges:\n  - upsert: { id: 9007199254740993, title: RETITLED }\n',
    );
    const r = await run(['plan', plan, '--as', 'erin']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('changes[0].upsert.id: the integer read as 9007199254740992 is beyond');
    expect(r.stderr).toContain('write it as a string');
    const lines = path.join(ws.dir, 'big.ndjson');
    writeFileSync(lines, '{"upsert":{"id":"1","title":"fine"}}\n{"delete":{"id":9007199254740993}}\n');
    const fromFile = path.join(ws.dir, 'big-file.yaml');
    writeFileSync(fromFile, 'id: big-2\ntarget: big\nreason: r\nchangesFile: big.ndjson\n');
    const f = await run(['plan', fromFile, '--as', 'erin']);
    expect(f.code, f.stderr).toBe(2);
    expect(f.stderr).toMatch(/line 2.*delete\.id: the integer read as 9007199254740992 is beyond/);
    // Quoted, it is kept exactly.
    writeFileSync(
      plan,
      "id: big-3\ntarget: big\nreason: r\nchanges:\n  - upsert: { id: '9007199254740993', title: RETITLED }\n",
    );
    await readyCut(plan, 'big-3');
    expect((await run(['run', 'big-3', '--live', '--as', 'erin'])).code).toBe(0);
    const rows = await ws.target.query`SELECT id::text, title FROM public.big ORDER BY id`;
    expect(rows).toEqual([
      { id: '9007199254740992', title: 'two-pow-53' },
      { id: '9007199254740993', title: 'RETITLED' },
    ]);
  });
});

describe('plan values the target cannot hold: exit 2 at plan time, not a failed live run', () => {
  it.each([
    ['a string for an integer column', '{ id: a, n: twelve }', 'invalid input syntax for type integer'],
    ['an integer out of range', '{ id: a, n: 99999999999 }', 'out of range for type integer'],
  ])('%s', async (_, row, reason) => {
    const plan = path.join(ws.dir, 'typed.yaml');
    writeFileSync(plan, `id: typed-1\ntarget: counts\nreason: r\nchanges:\n  - upsert: ${row}\n`);
    const r = await run(['plan', plan, '--as', 'erin']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('changes: a planned value does not fit public.counts: ');
    expect(r.stderr).toContain(reason);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('null for a NOT NULL column is refused at plan time, naming the change and the column', async () => {
    await ws.target.query`ALTER TABLE public.documents ALTER COLUMN title SET NOT NULL`;
    const plan = path.join(ws.dir, 'nn.yaml');
    writeFileSync(
      plan,
      'id: nn-1\ntarget: kb\nreason: r\nchanges:\n  - upsert: { id: KB-0001, title: t, body: x }\n' +
        '  - upsert: { id: KB-0002, title: null, body: x }\n',
    );
    const r = await run(['plan', plan, '--as', 'erin']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('change 2 (upsert): title is null, but public.documents.title is NOT NULL');
    expect(await storeQuery(sql`SELECT 1 FROM cutter.events WHERE stream_id = 'cut-nn-1'`)).toEqual([]);
  });

  it('a configured column or table that does not exist is named by its config field', async () => {
    const cfg = derivedConfig('cfg-typo.yaml', (c) => {
      c.targets.typo = { url: 'env:KB_URL', table: 'public.documents', key: ['id'], columns: ['titel'] };
      c.targets.nosuch = { url: 'env:KB_URL', table: 'public.nosuch', key: ['id'], columns: ['title'] };
    });
    for (const [target, field] of [
      ['typo', 'targets.typo.columns: column titel does not exist in public.documents'],
      ['nosuch', 'targets.nosuch.table: public.nosuch does not exist'],
    ]) {
      const plan = path.join(ws.dir, `${target}.yaml`);
      writeFileSync(plan, `id: ${target}-1\ntarget: ${target}\nreason: r\nchanges:\n  - delete: { id: a }\n`);
      const r = await run(['--config', cfg, 'plan', plan, '--as', 'erin']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(field!);
    }
  });
});

describe('files: not UTF-8, directories, half-written pairs', () => {
  it('a plan file that is not UTF-8 is refused (as a change file is), not recorded with U+FFFD', async () => {
    const plan = path.join(ws.dir, 'latin1.yaml');
    writeFileSync(
      plan,
      Buffer.from(
        'id: l1-1\ntarget: kb\nreason: caf\xe9\nchanges:\n  - upsert: { id: KB-0003, title: "na\xefve", body: x }\n',
        'latin1',
      ),
    );
    const r = await run(['plan', plan, '--as', 'erin']);
    expect(r.code, r.stdout).toBe(2);
    expect(r.stderr).toContain('latin1.yaml is not valid UTF-8 (byte 32)');
    expect(await storeQuery(sql`SELECT 1 FROM cutter.events WHERE stream_id = 'cut-l1-1'`)).toEqual([]);
  });

  it('a change line with a key twice in one object is refused (as inline YAML is), not last-wins', async () => {
    writeFileSync(
      path.join(ws.dir, 'dup.ndjson'),
      '{"upsert":{"id":"KB-0004","title":"t","body":"b"}}\n{"delete":{"id":"KB-0005","id":"KB-0006"}}\n',
    );
    const plan = path.join(ws.dir, 'dup.yaml');
    writeFileSync(plan, 'id: dup-1\ntarget: kb\nreason: r\nchangesFile: dup.ndjson\n');
    const r = await run(['plan', plan, '--as', 'erin']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('line 2: key "id" appears twice in one object');
  });

  it.each([
    [['plan', 'adir', '--as', 'erin'], 'adir is a directory, not a file'],
    [['--config', 'adir', 'status'], 'adir is a directory, not a file'],
    [['report', 'any', '--out', 'adir'], '--out: adir is a directory'],
  ])('cutter %j exits 2 naming the path', async (args, message) => {
    mkdirSync(path.join(ws.dir, 'adir'), { recursive: true });
    const r = await run(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('checkpoint --out <directory> is refused before a checkpoint is recorded', async () => {
    mkdirSync(path.join(ws.dir, 'adir'), { recursive: true });
    const count = sql`SELECT count(*)::int AS n FROM cutter.events WHERE stream_id = 'checkpoints'`;
    const before = await storeQuery(count);
    const r = await run(['checkpoint', '--out', 'adir', '--as', 'dana']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('--out: adir is a directory');
    expect(await storeQuery(count)).toEqual(before);
  });

  it('keys generate --backup never leaves a new private key beside an old public key', async () => {
    const dir = path.join(ws.dir, 'k3');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'ops.backup.pub.asc'), 'an older public key\n');
    const r = await run(['keys', 'generate', 'ops', '--backup'], { CUTTER_KEYS_DIR: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('ops.backup.pub.asc already exists');
    expect(existsSync(path.join(dir, 'ops.backup.key.asc')), 'half-written key pair').toBe(false);
  });
});

describe('store URLs', () => {
  it.each([
    ['postgres://app:50%off@127.0.0.1:5432/x', 'URI malformed'],
    ['mysql://db/x', 'Expected either a Connection URI'],
    ['postgres://app@127.0.0.1:99999/x', 'port 99999 is not between 1 and 65535'],
  ])('%s is bad input (exit 2) naming CUTTER_STORE_URL', async (url, why) => {
    const r = await run(['status'], { CUTTER_STORE_URL: url });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('CUTTER_STORE_URL: not a usable connection string');
    expect(r.stderr).toContain(why);
  });

  it('no part of a password reaches stderr, and nothing is written to another database', async () => {
    const u = new URL(ws.store.url);
    const conn =
      `host=${u.hostname} port=${u.port || 5432} user=${u.username} password=correct horse ` +
      `dbname=${u.pathname.slice(1)} sslmode=disable`;
    const r = await run(['status'], { CUTTER_STORE_URL: conn });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).not.toContain('horse');
    expect(r.stderr).toContain("quote a value with spaces: password='a b'");
  });
});

describe('the kill-switch reason', () => {
  it('killswitch engage --reason "" is refused (exit 2) and records nothing; the switch keeps working', async () => {
    const r = await run(['killswitch', 'engage', '--reason', '', '--as', 'dana']);
    const status = await run(['killswitch', 'status']);
    const events = await storeQuery(
      sql`SELECT count(*)::int AS n FROM cutter.events WHERE stream_id LIKE 'killswitch%' AND data->>'reason' = ''`,
    );
    expect(events[0].n, 'an engage with an empty reason was recorded').toBe(0);
    expect(status.code, status.stderr).toBe(0);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('--reason must say why');
    expect((await run(['killswitch', 'engage', '--reason', 'drill', '--as', 'dana'])).code).toBe(0);
    expect((await run(['killswitch', 'release', '--as', 'dana'])).code).toBe(0);
  });
});
