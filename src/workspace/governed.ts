/**
 * A governed workspace in one call, for scripts (bench, campaigns) and the test suites: member keys
 * in the keys directory, a governance file, genesis recorded by the admin, and the trust root to
 * pin. Idempotent for keys (existing ones are reused); genesis only when the store has none.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { generateApproverKey, readApproverPublicKey } from '../crypto/keys.js';
import { applyGovernance } from '../governance/commands.js';
import { openSession } from './session.js';

export interface GovernedSetup {
  /** Where the governance file is written and the session runs (the workspace directory). */
  cwd: string;
  env: NodeJS.ProcessEnv;
  keysDir: string;
  /** Member name → roles; every member gets an Ed25519 key in `keysDir`. */
  members: Record<string, string[]>;
  policy: { requiredApprovals: number; approvalTtl: string; requireDryRun: boolean; maxRows: number; roles?: string[] };
  /** The admin who signs genesis (must be among `members` with role admin). */
  admin: string;
}

/** Records genesis for `setup` and returns the trust root to pin as `trust.root`. */
export async function recordGenesis(setup: GovernedSetup): Promise<{ root: string; file: string }> {
  const members: Record<string, { publicKey: string; roles: string[] }> = {};
  for (const [name, roles] of Object.entries(setup.members)) {
    const have = existsSync(path.join(setup.keysDir, `${name}.ed25519.key`));
    const publicKey = have
      ? await readApproverPublicKey(name, { dir: setup.keysDir })
      : (await generateApproverKey(name, { dir: setup.keysDir })).publicKey;
    members[name] = { publicKey, roles };
  }
  const file = path.join(setup.cwd, 'governance.yaml');
  writeFileSync(file, stringify({ members, policy: setup.policy, admins: { threshold: 1 } }));
  const session = openSession({
    cwd: setup.cwd,
    as: setup.admin,
    env: { ...setup.env, CUTTER_KEYS_DIR: setup.keysDir },
  });
  try {
    return { root: (await applyGovernance(session, file)).root!, file };
  } finally {
    await session.close();
  }
}
