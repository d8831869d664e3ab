/**
 * One command's view of the world: where the workspace is, its validated config, who is acting,
 * and (opened on first use) the event store. The CLI builds a Session from its global options;
 * scripts, tests and the demo build one directly.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configPath, loadConfig, type LoadedConfig } from '../config/load.js';
import { InvalidInputError } from '../errors.js';
import { cutProjection } from '../projections/store.js';
import { openStore, type EventStore } from '../store/index.js';
import { targetSpec } from '../config/load.js';
import type { TargetSpec } from '../config/target.js';
import { locateStore, type StoreLocation } from './store-url.js';
import { authorityOf, pinnedGovernance, type Authority } from '../governance/authority.js';
import type { GovernanceState } from '../domain/governance.js';
import { keysDir } from '../crypto/keys.js';
import { loadSigner } from '../crypto/signer.js';

export interface SessionOptions {
  /** --config: the config file (default ./cutter.config.yaml). */
  config?: string;
  /** --store: the store URL (default CUTTER_STORE_URL, config store.url, then embedded). */
  store?: string;
  /** --as: the actor recorded on every event. */
  as?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface Session {
  /** The workspace root: the config file's directory. */
  root: string;
  configFile: string;
  actor: string;
  env: NodeJS.ProcessEnv;
  /** The validated config; throws InvalidInputError when missing or invalid. */
  config(): LoadedConfig['config'];
  /** The event store (migrated), opened once per session. */
  store(): Promise<EventStore>;
  /** The resolved spec of a configured target (opens the store first: `embedded:` URLs need it). */
  target(name: string): Promise<TargetSpec>;
  /** Where the store is (embedded start-up time included). Only after store(). */
  location(): StoreLocation | undefined;
  /**
   * The governance in force, checked against the config's pinned trust root (exit 3 when it
   * differs; when nothing is pinned, only read-only callers may pass `requirePin: false`).
   */
  governance(opts?: { requirePin?: boolean }): Promise<GovernanceState>;
  /** The acting member's signer, checked against governance: enrolled, with that key. */
  authority(): Promise<Authority>;
  close(): Promise<void>;
}

const ACTOR = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** The actor: --as, else CUTTER_ACTOR, else the OS user. Validated. */
export function resolveActor(as: string | undefined, env: NodeJS.ProcessEnv): string {
  const actor = as ?? env.CUTTER_ACTOR ?? safeUsername();
  if (!ACTOR.test(actor)) {
    const from = as !== undefined ? '--as' : env.CUTTER_ACTOR !== undefined ? 'CUTTER_ACTOR' : 'the OS user name';
    throw new InvalidInputError(`${from}: invalid actor name ${JSON.stringify(actor)}`);
  }
  return actor;
}

function safeUsername(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

export function openSession(opts: SessionOptions = {}): Session {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const configFile = configPath(opts.config, cwd);
  const root = path.dirname(configFile);
  const actor = resolveActor(opts.as, env);
  let loaded: LoadedConfig | undefined;
  let location: StoreLocation | undefined;
  let store: Promise<EventStore> | undefined;

  const config = () => (loaded ??= loadConfig(configFile, cwd)).config;
  // The store may be opened without a config (`cutter init`, `killswitch`): only a missing file is tolerated.
  const tryConfig = () => (existsSync(configFile) ? config() : undefined);

  return {
    root,
    configFile,
    actor,
    env,
    config,
    store() {
      store ??= (async () => {
        location = await locateStore({ ...(opts.store ? { store: opts.store } : {}), config: tryConfig(), root, env });
        return openStore(location.url, { inlineProjections: [cutProjection] });
      })();
      return store;
    },
    async target(name) {
      await this.store();
      return targetSpec(config(), name, env, location?.embedded ? location.url : undefined);
    },
    location: () => location,
    async governance(o = {}) {
      const pin = tryConfig()?.trust.root;
      return pinnedGovernance(await this.store(), pin, { requirePin: o.requirePin ?? true });
    },
    async authority() {
      const governance = await this.governance();
      return authorityOf(await loadSigner(actor, { dir: keysDir(env), env }), governance);
    },
    async close() {
      if (store) await (await store.catch(() => undefined))?.close();
      await location?.release();
    },
  };
}
