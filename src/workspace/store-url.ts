/**
 * Where the event store lives: `--store`, else CUTTER_STORE_URL, else the config's `store.url`,
 * else the embedded PostgreSQL kept under `<workspace>/.cutter`.
 */
import path from 'node:path';
import { resolveUrl } from '../config/load.js';
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

/** Resolves (and, for the embedded default, starts) the store. */
export async function locateStore(opts: {
  store?: string;
  config?: CutterConfig;
  root: string;
  env?: NodeJS.ProcessEnv;
}): Promise<StoreLocation> {
  const env = opts.env ?? process.env;
  const explicit = opts.store ?? env.CUTTER_STORE_URL ?? opts.config?.store.url;
  if (explicit) {
    return { url: resolveUrl(explicit, 'store.url', env), embedded: false, startupMs: 0, release: async () => undefined };
  }
  const server = await acquireEmbedded(embeddedDir(opts.root));
  return { url: server.url, embedded: true, startupMs: server.startupMs, release: () => server.release() };
}
