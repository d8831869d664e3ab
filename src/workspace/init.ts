/**
 * `cutter init [--example]`: a config if absent and a migrated store; with --example, the example
 * target database, member keys (alice, bob, erin, dana, root), governance recorded and pinned, a
 * backup keypair, plans/example.yaml and a config wired to them. Idempotent: what exists is kept
 * (keys are never overwritten).
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { generateBackupKey } from '../crypto/backup-keys.js';
import { generateApproverKey, keysDir, readApproverPublicKey } from '../crypto/keys.js';
import {
  createExampleTarget,
  EXAMPLE_ADMIN,
  EXAMPLE_MEMBERS,
  exampleConfig,
  exampleGovernance,
  examplePlan,
  writeIfAbsent,
} from './example.js';
import { applyGovernance } from '../governance/commands.js';
import { readGovernance } from '../governance/authority.js';
import type { Session } from './session.js';

export interface InitResult {
  config: string;
  configWritten: boolean;
  store: { embedded: boolean };
  example?: {
    database: string;
    plan: string;
    keysDir: string;
    members: Record<string, string[]>;
    backupFingerprint: string;
    governance: string;
    trustRoot: string;
    /**
     * Set when the config refers to the target as `env:<variable>`: the variable to set, and its
     * value with the password masked.
     */
    targetEnv?: { variable: string; value: string };
  };
}

/** The variable the example config names when the server's URL carries a password. */
export const EXAMPLE_URL_VARIABLE = 'CUTTER_EXAMPLE_URL';

const MINIMAL_CONFIG = `# cutter configuration: see README.md "Configuration"
targets: {}
# trust:
#   root: <the trust root printed by \`cutter governance show\`>  (members and policy live in governance)
backup:
  recipients: []
execution:
  enabled: false
`;

/** Initialises the workspace of `session`. */
export async function initWorkspace(session: Session, opts: { example?: boolean }): Promise<InitResult> {
  if (!opts.example) {
    const written = await writeIfAbsent(session.configFile, MINIMAL_CONFIG);
    await session.store();
    return {
      config: session.configFile,
      configWritten: written,
      store: { embedded: Boolean(session.location()?.embedded) },
    };
  }
  const store = await session.store();
  const location = session.location();
  if (!location) throw new Error('init: store location unknown');
  await createExampleTarget(location.url);
  const dir = keysDir(session.env);
  const { publicKeys, backup } = await exampleKeys(dir);
  const governanceFile = path.join(session.root, 'governance.yaml');
  await writeIfAbsent(governanceFile, exampleGovernance(publicKeys));
  const existing = await readGovernance(store);
  const trustRoot = existing.root ?? (await applyGovernance(session, governanceFile, { as: EXAMPLE_ADMIN })).root!;
  const { targetUrl, targetEnv } = exampleTarget(location);
  const config = exampleConfig({
    targetUrl,
    keys: { backupPublicKeyPath: backup.publicKeyPath },
    root: session.root,
    trustRoot,
  });
  const configWritten = await writeIfAbsent(session.configFile, config);
  const planFile = path.join(session.root, 'plans', 'example.yaml');
  await fs.mkdir(path.dirname(planFile), { recursive: true });
  await writeIfAbsent(planFile, `# An example cut: see README.md "Concepts"\n${stringify(examplePlan())}`);
  return {
    config: session.configFile,
    configWritten,
    store: { embedded: location.embedded },
    example: {
      database: 'cutter_example',
      plan: planFile,
      keysDir: dir,
      members: EXAMPLE_MEMBERS,
      backupFingerprint: backup.fingerprint,
      governance: governanceFile,
      trustRoot,
      ...(targetEnv && configWritten ? { targetEnv } : {}),
    },
  };
}

/** The example members' keys and the backup keypair: kept when present, generated when not. */
async function exampleKeys(dir: string) {
  const publicKeys: Record<string, string> = {};
  for (const name of Object.keys(EXAMPLE_MEMBERS)) {
    publicKeys[name] = existsSync(path.join(dir, `${name}.ed25519.key`))
      ? await readApproverPublicKey(name, { dir })
      : (await generateApproverKey(name, { dir })).publicKey;
  }
  const backup = existsSync(path.join(dir, 'backup.backup.pub.asc'))
    ? { publicKeyPath: path.join(dir, 'backup.backup.pub.asc'), fingerprint: 'existing' }
    : await generateBackupKey('backup', { dir });
  return { publicKeys, backup };
}

/**
 * The URL the example config gives its target. A password never goes into a file cutter writes:
 * then the config names a variable to hold the URL (`targetEnv`: its name and the masked value).
 */
function exampleTarget(location: { url: string; embedded: boolean }) {
  const serverUrl = location.embedded ? undefined : exampleServerUrl(location.url);
  const targetEnv =
    serverUrl && new URL(serverUrl).password ? { variable: EXAMPLE_URL_VARIABLE, value: masked(serverUrl) } : undefined;
  const targetUrl = location.embedded
    ? 'embedded:cutter_example'
    : targetEnv
      ? `env:${targetEnv.variable}`
      : serverUrl!;
  return { targetUrl, targetEnv };
}

function exampleServerUrl(storeUrl: string): string {
  const u = new URL(storeUrl);
  u.pathname = '/cutter_example';
  return u.toString();
}

function masked(url: string): string {
  const u = new URL(url);
  u.password = '***';
  return u.toString();
}
