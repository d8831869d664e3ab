/**
 * Coordination between cutter processes sharing one embedded server: a lock file (O_EXCL create,
 * stale when its pid is dead) around initialise / start / stop decisions, and one lease file per
 * live process (a dead one is pruned).
 */
import fs from 'node:fs/promises';
import path from 'node:path';

const LOCK_TIMEOUT_MS = 120_000;

export async function withLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
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

export async function liveLeases(root: string): Promise<number[]> {
  const names = await fs.readdir(path.join(root, 'leases')).catch(() => [] as string[]);
  const live: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (pidAlive(pid)) live.push(pid);
    else await fs.rm(path.join(root, 'leases', name), { force: true });
  }
  return live;
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
