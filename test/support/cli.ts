/**
 * Runs bin/cutter as a real process (the e2e tier): the compiled CLI, a real PostgreSQL (the run's
 * server, via CUTTER_STORE_URL), its own working directory and keys directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// test/support/ under vitest; dist/test/support/ when compiled into a script (the crash campaign).
const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN =
  [path.resolve(here, '../../bin/cutter'), path.resolve(here, '../../../bin/cutter')].find((f) => existsSync(f)) ??
  path.resolve(here, '../../bin/cutter');

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
    for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: '1', ...opts.env }))
      if (v !== undefined) env[k] = v;
    const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], {
      cwd: opts.cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
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

export interface RunningCli {
  child: ChildProcess;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout or stderr matches `pattern` (rejects after `timeoutMs` or on exit first). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** The exit: code (null when a signal ended it) and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `cutter <args>` and leaves it running (watch, projections follow): the caller stops it. */
export function startCutter(args: string[], opts: CliOptions): RunningCli {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: '1', ...opts.env })) if (v !== undefined) env[k] = v;
  const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], {
    cwd: opts.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());
  child.stdout!.on('data', (d: Buffer) => ((stdout += d.toString()), notify()));
  child.stderr!.on('data', (d: Buffer) => ((stderr += d.toString()), notify()));
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => (clearTimeout(killer), notify(), resolve({ code, signal })));
  });
  let done = false;
  void exited.then(
    () => (done = true),
    () => (done = true),
  );
  const waitFor = (pattern: RegExp, timeoutMs = 60_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(stdout) || pattern.test(stderr)) return finish(resolve);
        if (done)
          return finish(() =>
            reject(new Error(`cutter ${args.join(' ')} exited before printing ${pattern}:\n${stdout}\n${stderr}`)),
          );
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${stdout}\n${stderr}`))),
        timeoutMs,
      );
      const finish = (f: () => void) => (clearTimeout(timer), listeners.delete(check), f());
      listeners.add(check);
      check();
    });
  return { child, stdout: () => stdout, stderr: () => stderr, waitFor, exited };
}
