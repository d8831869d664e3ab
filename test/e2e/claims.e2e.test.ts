/**
 * Claims of README.md and docs/RELIABILITY.md that no other test backed (issue #15), checked with
 * bin/cutter as a real process against real PostgreSQL: every command and option the README shows
 * exists, every runnable command's --help shows an example, the --json error shape, the read-only
 * commands in a read-only session (as on a replica), the README's gpg recovery path run as written,
 * what a target ledger row records, operator-only revert, 1 MiB chunks, progress bars and colour on
 * a terminal only, migrations on first use by concurrent processes, --debug traces naming the
 * TypeScript sources (docs/BENCHMARKS.md), policy.maxRows on a change file, the embedded store's
 * system directory refused unless root-owned and writable only by root, and the tampering table's
 * middle deletion (cut and governance streams) and hidden stream caught by the target ledger.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { connect, sql, type Transaction } from '../../src/store/connection.js';
import { BIN, cutter } from '../support/cli.js';
import { adminUrl, freshDatabase } from '../support/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { removeEmbedded } from '../../src/store/embedded.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';

const README = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');

let ws: TestWorkspace;
const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  cutter(args, { cwd: ws.dir, env: { ...ws.env, ...env } });

async function fullCut(id: string): Promise<void> {
  ws.writePlan(id, bigPlan(id, 12, 20)); // 10 existing rows revised, 2 new, 1 delete
  for (const args of [
    ['plan', `${id}.yaml`, '--as', 'erin'],
    ['approve', id, '--as', 'alice'],
    ['approve', id, '--as', 'bob'],
    ['run', id, '--dry-run', '--as', 'erin'],
    ['run', id, '--live', '--as', 'erin'],
  ]) {
    const r = await run(args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  }
}

/** As the store's owner: triggers off for this transaction. */
async function asOwner(fn: (tx: Transaction) => Promise<unknown>): Promise<void> {
  const db = connect(ws.store.url, { poolSize: 1 });
  try {
    await db.tx(async (tx) => {
      await tx.query(sql`SET LOCAL session_replication_role = replica`);
      await fn(tx);
    });
  } finally {
    await db.dispose();
  }
}

beforeAll(async () => {
  ws = await testWorkspace({ rows: 20 });
});
afterAll(async () => ws?.drop());

/**
 * The commands and options the README shows: its inline `cutter …` spans (the CLI reference table
 * included, `\|` separating alternatives) and the `$CUTTER …` / `cutter …` lines of its sh blocks.
 */
function readmeCommands(groups: Set<string>): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const spans: string[] = [];
  for (const m of README.matchAll(/`(cutter [^`]+)`/g)) spans.push(m[1]!);
  for (const block of README.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block[1]!.split('\n')) {
      for (const m of line.replace(/#.*$/, '').matchAll(/(?:\$CUTTER|(?<![\w/.$-])cutter)((?: +[^\s|;)"']+)+)/g))
        spans.push(`cutter${m[1]}`);
    }
  }
  for (const span of spans) {
    let cur: string | undefined;
    let group: string | undefined;
    for (const segment of span.split(/\\?\|/)) {
      const words = segment.trim().split(/\s+/).filter(Boolean);
      if (words[0] === 'cutter') {
        words.shift();
        if (words[0]?.startsWith('-'))
          cur = ''; // `cutter --help`: the root's options
        else {
          const cmd = words.shift()!;
          group = groups.has(cmd) ? cmd : undefined;
          cur = group ? `${cmd} ${words.shift()}` : cmd;
        }
      } else if (group && /^[a-z]+$/.test(words[0] ?? '')) {
        cur = `${group} ${words.shift()}`;
      }
      if (cur === undefined) continue;
      const options = found.get(cur) ?? new Set<string>();
      for (const w of words) {
        const opt = /^\[?(--[a-z][a-z-]*)/.exec(w)?.[1];
        if (opt) options.add(opt);
      }
      found.set(cur, options);
    }
  }
  return found;
}

describe('README: the commands it shows', () => {
  it("all exist with every option shown, and every runnable command's --help shows an example", async () => {
    const help = new Map<string, string>();
    const helpOf = async (command: string) => {
      if (!help.has(command)) {
        const r = await run([...command.split(' ').filter(Boolean), '--help']);
        expect(r.code, `cutter ${command} --help: ${r.stderr}`).toBe(0);
        help.set(command, r.stdout);
      }
      return help.get(command)!;
    };
    const commandsOf = (text: string) =>
      [...(text.split(/^Commands:$/m)[1] ?? '').matchAll(/^ {2}([a-z][a-z-]*)/gm)]
        .map((m) => m[1]!)
        .filter((c) => c !== 'help');
    const root = await helpOf('');
    expect(root).toContain('Example:');
    const globalOptions = [...(root.split(/^Options:$/m)[1] ?? '').matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)].map(
      (m) => m[1]!,
    );
    expect(globalOptions).toEqual(expect.arrayContaining(['--as', '--store', '--config', '--json', '--debug']));

    // Every runnable command and subcommand, from the CLI itself.
    const groups = new Set<string>();
    const leaves: string[] = [];
    for (const cmd of commandsOf(root)) {
      const subs = commandsOf(await helpOf(cmd));
      if (subs.length) {
        groups.add(cmd);
        leaves.push(...subs.map((s) => `${cmd} ${s}`));
      } else leaves.push(cmd);
    }
    for (let i = 0; i < leaves.length; i += 4) await Promise.all(leaves.slice(i, i + 4).map(helpOf)); // 2 cores: a few at a time
    for (const leaf of leaves) expect(await helpOf(leaf), `cutter ${leaf} --help`).toContain('Example:');

    const shown = readmeCommands(groups);
    // The parser reached the README's commands: every one the CLI has but demo/status-like few, and options.
    expect(shown.size).toBeGreaterThanOrEqual(24);
    expect([...shown.values()].reduce((n, s) => n + s.size, 0)).toBeGreaterThanOrEqual(25);
    const missing: string[] = [];
    for (const [command, options] of shown) {
      if (command !== '' && !leaves.includes(command)) {
        missing.push(`cutter ${command}`);
        continue;
      }
      const text = await helpOf(command);
      expect(text, `cutter ${command} --help`).toMatch(
        new RegExp(`^Usage: cutter ${command ? `${command} ` : ''}\\[options\\]`, 'm'),
      );
      for (const o of options)
        if (!text.includes(`${o} `) && !text.includes(`${o}\n`) && !globalOptions.includes(o))
          missing.push(`cutter ${command} ${o}`);
    }
    expect(missing).toEqual([]);
    // And the README shows every command the CLI has.
    expect(leaves.filter((l) => !shown.has(l))).toEqual([]);
    console.log(
      `README commands checked: ${shown.size}, options: ${[...shown.values()].reduce((n, s) => n + s.size, 0)}; CLI commands with an example: ${leaves.length}`,
    );
  });
});

describe('README: --json errors', () => {
  it('print {"error": {code, message, reasons, exitCode}} alone on stdout, exitCode the process exit status', async () => {
    ws.writePlan('j1', bigPlan('j1', 2, 20));
    expect((await run(['plan', 'j1.yaml', '--as', 'erin'])).code).toBe(0);
    const cases: [string[], number, string][] = [
      [['approve', 'no-such-cut', '--as', 'alice'], 2, 'InvalidInput'],
      [['plan', 'no-such-file.yaml', '--as', 'erin'], 2, 'InvalidInput'],
      [['approve', 'j1', '--as', 'erin'], 3, 'GovernanceRefused'],
      [['run', 'j1', '--live', '--as', 'erin'], 3, 'GovernanceRefused'],
    ];
    for (const [args, exit, code] of cases) {
      const r = await run([...args, '--json']);
      expect(r.code, r.stderr).toBe(exit);
      expect(r.json, r.stdout).toBeDefined();
      expect(Object.keys(r.json)).toEqual(['error']);
      expect(Object.keys(r.json.error).sort()).toEqual(['code', 'exitCode', 'message', 'reasons']);
      expect(r.json.error).toMatchObject({
        code,
        exitCode: exit,
        message: expect.any(String),
        reasons: expect.any(Array),
      });
    }
    // A refusal with several reasons lists them all.
    const refused = await run(['run', 'j1', '--live', '--as', 'erin', '--json'], {
      CUTTER_EXECUTION_ENABLED: undefined,
    });
    expect(refused.code).toBe(3);
    expect(refused.json.error).toMatchObject({ code: 'GovernanceRefused', exitCode: 3 });
    expect(refused.json.error.reasons).toEqual(
      expect.arrayContaining([expect.stringContaining('lock 2 closed'), expect.stringContaining('0 of 2 required')]),
    );
  });
});

describe('README: operations', () => {
  beforeAll(async () => {
    expect((await run(['checkpoint', '--as', 'alice'])).code).toBe(0);
    await fullCut('r1');
  });

  it('status, history, replay and report work in a read-only session (as on a replica)', async () => {
    const db = new URL(ws.store.url).pathname.slice(1);
    const admin = connect(adminUrl(), { poolSize: 1 });
    await admin.query(sql`ALTER DATABASE ${sql.ident(db)} SET default_transaction_read_only = on`);
    try {
      // The setting holds: a write from a new session is refused.
      const probe = connect(ws.store.url, { poolSize: 1 });
      await expect(probe.query(sql`CREATE TABLE public.probe (a int)`)).rejects.toThrow(/read-only transaction/);
      await probe.dispose();
      for (const args of [
        ['status', '--json'],
        ['status', 'r1', '--json'],
        ['history', 'r1', '--json'],
        ['replay', '--all', '--json'],
        ['replay', 'r1', '--targets', '--json'],
        ['report', 'r1', '--format', 'json'],
      ]) {
        const r = await run(args);
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
        expect(r.json, args.join(' ')).toBeDefined();
      }
      // A command that records something is refused by the server, not silently dropped.
      const write = await run(['killswitch', 'engage', '--reason', 'ro', '--as', 'alice']);
      expect(write.code).not.toBe(0);
      expect(write.stderr).toContain('read-only');
    } finally {
      await admin.query(sql`ALTER DATABASE ${sql.ident(db)} RESET default_transaction_read_only`);
      await admin.dispose();
    }
  });

  it("a live run's leg-B row in the target's ledger records the plan hash, the cut stream's head and the latest checkpoint's root", async () => {
    const planHash = (await run(['status', 'r1', '--json'])).json.planHash;
    const [row] = await ws.target
      .query`SELECT plan_hash, payload FROM public.cutter_ledger WHERE cut_id = 'r1' AND kind = 'leg_b'`;
    expect(row.plan_hash).toBe(planHash);
    const history = (await run(['history', 'r1', '--json'])).json.events as { type: string; version: number }[];
    const legB = history.find((e) => e.type === 'LegBRecorded')!;
    expect(row.payload.storeHead).toMatchObject({
      version: legB.version - 1,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const checkpoint = connect(ws.store.url, { poolSize: 1 });
    const [cp] = await checkpoint.query(
      sql`SELECT version, data->>'root' AS root FROM cutter.events WHERE stream_id = 'checkpoints' ORDER BY version DESC LIMIT 1`,
    );
    await checkpoint.dispose();
    expect(row.payload.checkpoint).toEqual({ version: cp.version, root: cp.root });
  });

  it("the README's gpg recovery path, run as written, decrypts the stored backup: a header, then key <TAB> row per planned key", async () => {
    const block = /\*\*Decrypting a backup with gpg\.\*\*[\s\S]*?```sh\n([\s\S]*?)```/.exec(README)?.[1];
    expect(block).toBeDefined();
    const script = block!
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .join('\n')
      .replaceAll('kb-2026-11-release', 'r1');
    expect(script.split('\n')).toHaveLength(3);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutter-gpg-'));
    // No terminal here: gpg is told so in its own home (batch mode), the README's commands stay as written.
    const gnupg = mkdtempSync(path.join(os.tmpdir(), 'cutter-gnupg-'));
    writeFileSync(path.join(gnupg, 'gpg.conf'), 'batch\npinentry-mode loopback\n');
    const out = execFileSync('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: dir,
      env: { ...process.env, ...ws.env, GNUPGHOME: gnupg },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
    const [header, ...entries] = out.trimEnd().split('\n');
    expect(JSON.parse(header!)).toMatchObject({ cutId: 'r1' });
    const planned = bigPlan('r1', 12, 20).changes.map((c: any) => (c.upsert ?? c.delete).id as string);
    expect(entries.map((e) => JSON.parse(e.split('\t')[0]!).id)).toEqual(planned);
    // Rows that existed hold their pre-image; new keys hold null.
    const rows = Object.fromEntries(
      entries.map((e) => [JSON.parse(e.split('\t')[0]!).id, JSON.parse(e.split('\t')[1]!)]),
    );
    expect(rows['KB-0001']).toMatchObject({ id: 'KB-0001', title: 'title 1' });
    expect(rows['NEW-0000012']).toBeNull();
    expect(entries).toHaveLength(13);
  });

  it('only an operator reverts: an approver is refused (exit 3), nothing recorded', async () => {
    const before = (await run(['history', 'r1', '--json'])).json.events.length;
    const r = await run(['revert', 'r1', '--live', '--as', 'alice']);
    expect([r.code, r.stderr]).toEqual([3, expect.stringContaining('needs role operator')]);
    expect((await run(['history', 'r1', '--json'])).json.events.length).toBe(before);
  });

  it('a change file is stored in 1 MiB chunks', async () => {
    const body = 'x'.repeat(170);
    const lines = Array.from({ length: 13_000 }, (_, i) =>
      JSON.stringify({ upsert: { id: `C-${i}`, title: 't', body } }),
    );
    writeFileSync(path.join(ws.dir, 'chunked.ndjson'), `${lines.join('\n')}\n`);
    writeFileSync(
      path.join(ws.dir, 'chunked.yaml'),
      'id: chunked\ntarget: kb\nreason: chunks\nchangesFile: chunked.ndjson\n',
    );
    const planned = await run(['plan', 'chunked.yaml', '--as', 'erin']);
    expect(planned.code, planned.stderr).toBe(0);
    const db = connect(ws.store.url, { poolSize: 1 });
    const chunks = await db.query(
      sql`SELECT c.seq, octet_length(c.data) AS n FROM cutter.blob_chunks c JOIN cutter.blobs b USING (blob_id) WHERE b.blob_id LIKE 'changes-%' AND b.bytes > 2000000 ORDER BY c.seq`,
    );
    await db.dispose();
    const total = lines.join('\n').length + 1;
    expect(total).toBeGreaterThan(2 * 2 ** 20);
    expect(chunks.map((c) => c.n)).toEqual([2 ** 20, 2 ** 20, total - 2 * 2 ** 20]);
  });

  it('progress bars and colour appear on a terminal only, colour never with NO_COLOR', async () => {
    expect(spawnSync('script', ['--version']).status, 'util-linux script(1) runs the CLI on a pseudo-terminal').toBe(0);
    const ESC = '\u001b[';
    const bar = /\d+\/\d+ rows/;
    ws.writePlan('tty1', bigPlan('tty1', 12, 20));
    for (const [args, who] of [
      [['plan', 'tty1.yaml'], 'erin'],
      [['approve', 'tty1'], 'alice'],
      [['approve', 'tty1'], 'bob'],
    ] as const) {
      expect((await run([...args, '--as', who])).code).toBe(0);
    }
    // Piped (not a terminal), NO_COLOR unset: neither colour nor bars.
    const piped = await run(['run', 'tty1', '--dry-run', '--as', 'erin'], { NO_COLOR: undefined });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout + piped.stderr).not.toContain(ESC);
    const onTty = (args: string[], env: Record<string, string | undefined>) => {
      const e: Record<string, string> = {};
      for (const [k, v] of Object.entries({ ...process.env, ...ws.env, ...env })) if (v !== undefined) e[k] = v;
      const cmd = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
      const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
        cwd: ws.dir,
        env: e,
        encoding: 'utf8',
        timeout: 120_000,
      });
      return { code: r.status, out: r.stdout };
    };
    const live = onTty(['run', 'tty1', '--live', '--as', 'erin'], { NO_COLOR: undefined });
    expect(live.code, live.out).toBe(0);
    expect(live.out).toMatch(bar);
    expect(live.out).toContain(ESC);
    expect(onTty(['status', 'tty1'], { NO_COLOR: undefined }).out).toContain(ESC);
    const noColor = onTty(['status', 'tty1'], { NO_COLOR: '1' });
    expect(noColor.code, noColor.out).toBe(0);
    expect(noColor.out).toContain('completed');
    expect(noColor.out).not.toContain(ESC);
    // The same live run piped shows no bar: its revert, piped, neither.
    const revert = await run(['revert', 'tty1', '--live', '--as', 'erin'], { NO_COLOR: undefined });
    expect(revert.code, revert.stderr).toBe(0);
    expect(revert.stdout + revert.stderr).not.toMatch(bar);
    expect(revert.stdout + revert.stderr).not.toContain(ESC);
  });
});

describe('docs/RELIABILITY.md: the tampering table', () => {
  it('README, large cuts: a change file longer than policy.maxRows is refused (exit 2), recording nothing', async () => {
    const g = parse(readFileSync(ws.governanceFile, 'utf8'));
    g.policy.maxRows = 3;
    writeFileSync(path.join(ws.dir, 'gov-v2.yaml'), stringify(g));
    expect(
      (await run(['governance', 'apply', path.join(ws.dir, 'gov-v2.yaml'), '--as', 'dana', '--json'])).json,
    ).toMatchObject({ applied: 'effective', version: 2 });
    writeFileSync(
      path.join(ws.dir, 'four.ndjson'),
      [1, 2, 3, 4].map((i) => JSON.stringify({ upsert: { id: `M-${i}`, title: 't', body: 'b' } })).join('\n') + '\n',
    );
    writeFileSync(path.join(ws.dir, 'four.yaml'), 'id: m1\ntarget: kb\nreason: too many\nchangesFile: four.ndjson\n');
    const tooMany = await run(['plan', 'four.yaml', '--as', 'erin']);
    expect([tooMany.code, tooMany.stderr]).toEqual([
      2,
      expect.stringContaining('changesFile: more than policy.maxRows 3 changes'),
    ]);
    expect((await run(['status', 'm1', '--json'])).code).not.toBe(0);
    writeFileSync(
      path.join(ws.dir, 'three.ndjson'),
      [1, 2, 3].map((i) => JSON.stringify({ upsert: { id: `M-${i}`, title: 't', body: 'b' } })).join('\n') + '\n',
    );
    writeFileSync(
      path.join(ws.dir, 'three.yaml'),
      'id: m2\ntarget: kb\nreason: just enough\nchangesFile: three.ndjson\n',
    );
    const enough = await run(['plan', 'three.yaml', '--as', 'erin']);
    expect(enough.code, enough.stderr).toBe(0);
  });

  it('an event deleted from the middle of a cut stream or of the governance stream breaks its chain in replay', async () => {
    // j1 (planned above) gets two approvals: its stream holds 3 events.
    for (const who of ['alice', 'bob']) expect((await run(['approve', 'j1', '--as', who])).code).toBe(0);
    // A third governance version (dana is the only admin, threshold 1): the stream holds 3 events.
    const g = parse(readFileSync(ws.governanceFile, 'utf8'));
    writeFileSync(path.join(ws.dir, 'gov-v3.yaml'), stringify(g));
    expect(
      (await run(['governance', 'apply', path.join(ws.dir, 'gov-v3.yaml'), '--as', 'dana', '--json'])).json,
    ).toMatchObject({ applied: 'effective', version: 3 });
    const clean = await run(['replay', '--all', '--json']);
    expect(clean.json.violations).toEqual([]);
    await asOwner(async (tx) => {
      await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = 'cut-j1' AND version = 2`);
      await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = 'governance' AND version = 2`);
    });
    const r = await run(['replay', '--all', '--json']);
    expect(r.code).toBe(4);
    const rules = r.json.violations.map((v: { streamId: string; rule: string }) => `${v.streamId}:${v.rule}`);
    expect(rules).toEqual(expect.arrayContaining(['cut-j1:hash-chain', 'governance:hash-chain']));
  });

  it('a whole cut stream hidden by the owner is named by its target ledger row (--targets)', async () => {
    await asOwner(async (tx) => {
      await tx.query(sql`DELETE FROM cutter.events WHERE stream_id = 'cut-r1'`);
      await tx.query(sql`DELETE FROM cutter.streams WHERE stream_id = 'cut-r1'`);
    });
    const storeOnly = await run(['replay', '--all', '--json']);
    expect(storeOnly.json.violations.filter((v: { streamId: string }) => v.streamId === 'cut-r1')).toEqual([]);
    const r = await run(['replay', '--all', '--targets', '--json']);
    expect(r.code).toBe(4);
    const named = r.json.violations.filter(
      (v: { streamId: string; rule: string }) => v.streamId === 'cut-r1' && v.rule === 'ledger',
    );
    expect(named.map((v: { message: string }) => v.message).join('\n')).toContain('the log has no such cut');
  });
});

describe('README: a server store', () => {
  it('migrates on first use, once, when several processes start on an empty store together', async () => {
    const empty = await freshDatabase();
    try {
      const runs = await Promise.all(
        Array.from({ length: 4 }, () =>
          cutter(['status', '--json'], {
            cwd: mkdtempSync(path.join(os.tmpdir(), 'cutter-first-use-')),
            env: { CUTTER_STORE_URL: empty.url, CUTTER_KEYS_DIR: '/nonexistent' },
          }),
        ),
      );
      expect(runs.map((r) => [r.code, r.stderr])).toEqual(runs.map(() => [0, '']));
      const db = connect(empty.url, { poolSize: 1 });
      const applied = await db.query(sql`SELECT version FROM cutter.migrations ORDER BY version`);
      await db.dispose();
      expect(applied.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await empty.drop();
    }
  });

  it('--debug traces name the TypeScript sources (source maps)', async () => {
    writeFileSync(
      path.join(ws.dir, 'bad-debug.yaml'),
      'target: kb\nreason: r\nchanges:\n  - upsert: { title: t, body: b }\n',
    );
    const r = await run(['plan', 'bad-debug.yaml', '--as', 'erin', '--debug']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\n\s+at .*src\/[\w/.-]+\.ts:\d+/);
  });
});

describe('README: the embedded store as root', () => {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  it.runIf(asRoot)(
    'refuses a CUTTER_EMBEDDED_SYSTEM_DIR that is not owned by root or that others can write, creating nothing in it',
    async () => {
      const parent = mkdtempSync(path.join(os.tmpdir(), 'cutter-private-'));
      chmodSync(parent, 0o700);
      const dir = path.join(parent, 'work');
      mkdirSync(dir);
      const postgres = execFileSync('id', ['-u', 'postgres']).toString().trim();
      const cases: [string, (d: string) => void][] = [
        ['world-writable', (d) => chmodSync(d, 0o777)],
        [
          'owned by postgres',
          (d) => {
            chmodSync(d, 0o755);
            chownSync(d, Number(postgres), Number(postgres));
          },
        ],
      ];
      const systems: string[] = [];
      try {
        for (const [what, spoil] of cases) {
          const system = mkdtempSync(path.join(os.tmpdir(), 'cutter-system-'));
          systems.push(system);
          spoil(system);
          const r = await cutter(['init'], {
            cwd: dir,
            env: {
              CUTTER_KEYS_DIR: path.join(dir, 'keys'),
              CUTTER_STORE_URL: undefined,
              CUTTER_EMBEDDED_SYSTEM_DIR: system,
            },
          });
          expect(r.code, what).not.toBe(0);
          expect(r.stderr, what).toContain(`${system} must be a directory owned by root and writable only by root`);
          expect(r.stderr, what).not.toMatch(/\n\s+at /);
          expect(readdirSync(system), what).toEqual([]);
        }
      } finally {
        // Were the check gone, init would have started a server with its data in the system directory.
        await removeEmbedded(path.join(dir, '.cutter')).catch(() => undefined);
        for (const d of [parent, ...systems]) rmSync(d, { recursive: true, force: true });
      }
    },
  );
});
