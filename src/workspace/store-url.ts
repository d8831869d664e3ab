/**
 * Where the event store lives: `--store`, else CUTTER_STORE_URL, else the config's `store.url`,
 * else the embedded PostgreSQL kept under `<workspace>/.cutter`.
 */
import path from 'node:path';
import { resolveUrl } from '../config/load.js';
import { InvalidInputError } from '../errors.js';
import type { CutterConfig } from '../config/schema.js';
import { acquireEmbedded } from '../store/embedded.js';

export interface StoreLocation {
  url: string;
  embedded: boolean;
  /** Milliseconds spent starting the embedded server in this process (0 if it was up or not embedded). */
  startupMs: number;
  release(): Promise<void>;
}

/** The directory that holds the embedded server's data for a workspace rooted at `root`. */
export function embeddedDir(root: string): string {
  return path.join(root, '.cutter');
}

/**
 * Throws InvalidInputError when `store` (the `--store` value) carries a password: process arguments
 * are readable by every user of the machine (`ps -eo args`). The message never repeats the value.
 */
export function refusePasswordOnCommandLine(store: string): void {
  if (hasPassword(store)) {
    throw new InvalidInputError(
      '--store: a password on the command line is visible to every user in the process list; ' +
        'set CUTTER_STORE_URL instead, or pass --store env:VAR with the URL in the environment variable VAR',
    );
  }
}

/** Whether a PostgreSQL URL or key=value connection string carries a password. */
export function hasPassword(conn: string): boolean {
  if (/^postgres(ql)?:\/\//i.test(conn)) {
    try {
      const u = new URL(conn);
      if (u.password) return true;
      return [...u.searchParams.keys()].some((k) => k.toLowerCase() === 'password');
    } catch {
      // Unparseable as a URL: fall back to a plain search, erring on the side of refusing.
      return /:[^@/]*@/.test(conn.replace(/^postgres(ql)?:\/\//i, '')) || /password=/i.test(conn);
    }
  }
  return /(^|\s)password\s*=/i.test(conn);
}

/** Resolves (and, for the embedded default, starts) the store. */
export async function locateStore(opts: {
  store?: string;
  config?: CutterConfig;
  root: string;
  env?: NodeJS.ProcessEnv;
}): Promise<StoreLocation> {
  const env = opts.env ?? process.env;
  // An empty value is a mistake (a secret fetch that failed, `export CUTTER_STORE_URL=$(…)`), never
  // a request for the embedded default: that would read and advise against another, empty store.
  if (opts.store === '') throw new InvalidInputError('--store: empty (give a URL, or leave the option out)');
  if (env.CUTTER_STORE_URL === '')
    throw new InvalidInputError(
      'CUTTER_STORE_URL: set but empty (give a URL, or unset it for store.url or the embedded store)',
    );
  const explicit = opts.store ?? env.CUTTER_STORE_URL ?? opts.config?.store.url;
  if (explicit) {
    return {
      url: resolveUrl(
        explicit,
        opts.store !== undefined ? '--store' : env.CUTTER_STORE_URL !== undefined ? 'CUTTER_STORE_URL' : 'store.url',
        env,
      ),
      embedded: false,
      startupMs: 0,
      release: async () => undefined,
    };
  }
  const server = await acquireEmbedded(embeddedDir(opts.root));
  return { url: server.url, embedded: true, startupMs: server.startupMs, release: () => server.release() };
}
