/**
 * Finds, parses and validates cutter.config.yaml (or the file named by --config), and resolves
 * `env:VAR` URL references at the moment a connection is needed. Every failure is an
 * InvalidInputError naming the file and field.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { InvalidInputError } from '../errors.js';
import { parseConnection } from '../store/connection.js';
import { formatIssues } from './issues.js';
import { readTextFile } from './text-file.js';
import { CutterConfig, MOVED_TO_GOVERNANCE } from './schema.js';
import type { TargetSpec } from './target.js';

export const CONFIG_FILE = 'cutter.config.yaml';

export interface LoadedConfig {
  path: string;
  config: CutterConfig;
}

/** The config path: `explicit` if given, else ./cutter.config.yaml in `cwd`. */
export function configPath(explicit: string | undefined, cwd = process.cwd()): string {
  return path.resolve(cwd, explicit ?? CONFIG_FILE);
}

/** Reads and validates a config file. Throws InvalidInputError naming every bad field. */
export function loadConfig(explicit?: string, cwd = process.cwd()): LoadedConfig {
  const file = configPath(explicit, cwd);
  if (!existsSync(file)) {
    throw new InvalidInputError(`config: ${file} not found (run \`cutter init\`, or pass --config)`);
  }
  return { path: file, config: parseConfig(readTextFile(file, 'config'), file) };
}

/** Validates config text (YAML or JSON). */
export function parseConfig(text: string, file = CONFIG_FILE): CutterConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true }) ?? {};
  } catch (err) {
    throw new InvalidInputError(`config ${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (raw && typeof raw === 'object') {
    const moved = MOVED_TO_GOVERNANCE.filter((k) => k in raw);
    if (moved.length > 0) {
      const lines = moved.map(
        (k) =>
          `${k}: moved to the store's governance (members and policy are signed there: \`cutter governance apply ` +
          `<file> --as <admin>\`); remove it from the config`,
      );
      throw new InvalidInputError(`config ${file}: ${lines.join('; ')}`, { issues: lines });
    }
  }
  const parsed = CutterConfig.safeParse(raw);
  if (!parsed.success) {
    const lines = formatIssues(parsed.error);
    throw new InvalidInputError(`config ${file}: ${lines.join('; ')}`, { issues: lines });
  }
  return parsed.data;
}

/**
 * Resolves a URL reference: `env:VAR` reads the environment (throws naming `field` when unset);
 * `embedded:<db>` names a database on the embedded server, whose URL the caller passes.
 */
export function resolveUrl(
  ref: string,
  field: string,
  env: NodeJS.ProcessEnv = process.env,
  embeddedUrl?: string,
): string {
  if (ref.startsWith('embedded:')) {
    if (!embeddedUrl)
      throw new InvalidInputError(`${field}: ${ref} needs the embedded store (no --store / CUTTER_STORE_URL)`);
    const u = new URL(embeddedUrl);
    u.pathname = `/${ref.slice('embedded:'.length)}`;
    return u.toString();
  }
  if (!ref.startsWith('env:')) return checkedUrl(ref, field);
  const name = ref.slice(4);
  const value = env[name];
  if (!value) throw new InvalidInputError(`${field}: environment variable ${name} is not set`);
  return checkedUrl(value, `${field} (${name})`);
}

/** `url` when PostgreSQL's client can read it, else InvalidInputError naming `field` (never the URL). */
function checkedUrl(url: string, field: string): string {
  try {
    parseConnection(url);
  } catch (err) {
    throw new InvalidInputError(`${field}: not a usable connection string: ${(err as Error).message}`);
  }
  return url;
}

/** The resolved spec of target `name`, or InvalidInputError naming the unknown target. */
export function targetSpec(
  config: CutterConfig,
  name: string,
  env: NodeJS.ProcessEnv = process.env,
  embeddedUrl?: string,
): TargetSpec {
  const t = config.targets[name];
  if (!t) {
    const known = Object.keys(config.targets);
    throw new InvalidInputError(
      `target: unknown target ${JSON.stringify(name)} (configured: ${known.join(', ') || 'none'})`,
    );
  }
  return {
    name,
    url: resolveUrl(t.url, `targets.${name}.url`, env, embeddedUrl),
    table: t.table,
    key: t.key,
    columns: t.columns,
    ...(t.lifecycle ? { lifecycle: t.lifecycle } : {}),
  };
}
