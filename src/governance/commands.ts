/**
 * `cutter governance apply | approve | show`: the registry's versions in the `governance` stream.
 * Genesis is recorded by an admin the file lists and prints the trust root to pin; a later file is
 * a proposal by an admin of the version in force, effective once `admins.threshold` admins of that
 * version signed it (`governance approve <version>`). Every event goes through the one command
 * handler (src/commands/handle.ts) with the governance decider (src/domain/governance-commands.ts)
 * and is signed (authority.ts).
 */
import { GOVERNANCE_STREAM, type Registry } from '../../events/governance.js';
import { handle } from '../commands/handle.js';
import { governanceDecider, type GovernanceCommand } from '../domain/index.js';
import { current, type GovernanceState } from '../domain/governance.js';
import { GovernanceRefusedError } from '../errors.js';
import { keysDir } from '../crypto/keys.js';
import { keyFingerprint } from '../crypto/signatures.js';
import { loadSigner, type Signer } from '../crypto/signer.js';
import type { EventStore } from '../store/index.js';
import { authorityOf, nodeCrypto, readGovernance, signingAs } from './authority.js';
import { loadGovernanceFile } from './file.js';

/** What the governance commands need of a session (src/workspace/session.ts provides it). */
export interface GovernanceSession {
  readonly actor: string;
  readonly env: NodeJS.ProcessEnv;
  store(): Promise<EventStore>;
  config(): { trust: { root?: string | undefined } };
  /** The governance in force, checked against the pin (GovernanceRefused otherwise). */
  governance(): Promise<GovernanceState>;
}

export interface GovernanceView {
  root: string | null;
  version: number;
  pinned: string | null;
  members: { name: string; roles: string[]; key: string; publicKey: string }[];
  policy: Registry['policy'] | null;
  admins: Registry['admins'] | null;
  pending: { version: number; proposer: string; signatures: number; needed: number } | null;
  violations: { version: number; rule: string; message: string }[];
}

export function viewOf(g: GovernanceState, pinned: string | undefined): GovernanceView {
  const cur = current(g);
  return {
    root: g.root ?? null,
    version: cur?.version ?? 0,
    pinned: pinned ?? null,
    members: Object.entries(cur?.registry.members ?? {}).map(([name, m]) => ({
      name,
      roles: m.roles,
      key: keyFingerprint(m.publicKey),
      publicKey: m.publicKey,
    })),
    policy: cur?.registry.policy ?? null,
    admins: cur?.registry.admins ?? null,
    pending:
      g.pending && cur
        ? {
            version: g.pending.version,
            proposer: g.pending.proposer,
            signatures: g.pending.signers.size,
            needed: cur.registry.admins.threshold,
          }
        : null,
    violations: g.violations.map((v) => ({ version: v.version, rule: v.rule, message: v.message })),
  };
}

/**
 * Records the decided governance event through the one command handler, signed by `signer` under
 * the authority the state it was decided on gives (genesis: the registry being recorded).
 */
async function record(store: EventStore, signer: Signer, command: GovernanceCommand, pin: string | undefined) {
  return handle(store, GOVERNANCE_STREAM, command, governanceDecider(nodeCrypto, pin), {
    sign: signingAs<GovernanceState>(store, (g) =>
      g.streamVersion === 0 && command.type === 'ApplyGovernance'
        ? { signer, governance: g, version: 1, registry: command.registry }
        : authorityOf(signer, g),
    ),
  });
}

/** Records genesis (first time) or proposes the next version; returns the resulting view. */
export async function applyGovernance(
  session: GovernanceSession,
  file: string,
  opts: { as?: string } = {},
): Promise<GovernanceView & { applied: 'genesis' | 'effective' | 'proposed' }> {
  const registry = loadGovernanceFile(file);
  const store = await session.store();
  const pin = pinOf(session);
  const signer = await loadSigner(opts.as ?? session.actor, { dir: keysDir(session.env), env: session.env });
  const genesis = (await store.streamVersion(GOVERNANCE_STREAM)) === 0;
  // A change applies only to the governance this workspace pins (refused otherwise, exit 3).
  if (!genesis) await session.governance();
  const { before, after } = await record(
    store,
    signer,
    {
      type: 'ApplyGovernance',
      registry,
      source: file,
      at: new Date().toISOString(),
      signer: { name: signer.name, fingerprint: signer.fingerprint },
    },
    genesis ? undefined : pin,
  );
  const applied =
    before.streamVersion === 0
      ? 'genesis'
      : (current(after)?.version ?? 0) > (current(before)?.version ?? 0)
        ? 'effective'
        : 'proposed';
  return { ...viewOf(after, pin), applied };
}

/** An admin's signature on the pending proposal of `version`. */
export async function approveGovernance(
  session: GovernanceSession,
  version: number,
): Promise<GovernanceView & { effective: boolean }> {
  const pin = pinOf(session);
  await session.governance();
  const signer = await loadSigner(session.actor, { dir: keysDir(session.env), env: session.env });
  const { after } = await record(
    await session.store(),
    signer,
    {
      type: 'ApproveGovernance',
      version,
      at: new Date().toISOString(),
      signer: { name: signer.name, fingerprint: signer.fingerprint },
    },
    pin,
  );
  return { ...viewOf(after, pin), effective: (current(after)?.version ?? 0) >= version };
}

/** The governance in force, read-only: checked against `trustRoot` or the configured pin (exit 3 when it differs). */
export async function showGovernance(
  session: GovernanceSession,
  opts: { trustRoot?: string } = {},
): Promise<GovernanceView> {
  const pin = opts.trustRoot ?? pinOf(session);
  const g = await readGovernance(await session.store(), pin);
  const bad = g.violations.find((v) => v.rule === 'trust-root');
  if (bad) throw new GovernanceRefusedError(`this store's governance is not the pinned one: ${bad.message}`);
  return viewOf(g, pin);
}

/** The configured trust root, if a config exists (genesis and `show` work without one). */
function pinOf(session: GovernanceSession): string | undefined {
  try {
    return session.config().trust.root;
  } catch {
    return undefined;
  }
}
