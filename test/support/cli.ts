/**
 * Runs bin/cutter as a real process (the e2e tier): the compiled CLI, a real PostgreSQL (the run's
 * server, via CUTTER_STORE_URL), its own working directory and keys directory.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// test/support/ under vitest; dist/test/support/ when compiled into a script (the crash campaign).
const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = [path.resolve(here, '../../bin/cutter'), path.resolve(here, '../../../bin/cutter')].find((f) => existsSync(f)) ?? path.resolve(here, '../../bin/cutter');

export interface CliResult {
  code: number;
  /** The signal that ended the process, if one did (its `code` is then 128). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (only when it is JSON). */
  json: any;
}

export interface CliOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
  /** Another checkout's bin/cutter (default: this one's). */
  bin?: string;
}

/** Runs `cutter <args>`; never throws on a non-zero exit. */
export function cutter(args: string[], opts: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: '1', ...opts.env })) if (v !== undefined) env[k] = v;
    const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let json: any;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? (signal ? 128 : 1), signal, stdout, stderr, json });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A new empty working directory with its own keys directory. */
export function workspace(prefix = 'cutter-e2e-'): { dir: string; keys: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, keys: path.join(dir, 'keys') };
}
