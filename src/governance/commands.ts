/**
 * `cutter governance apply | approve | show`: the registry's versions in the `governance` stream.
 * Genesis is recorded by an admin the file lists and prints the trust root to pin; a later file is
 * a proposal by an admin of the version in force, effective once `admins.threshold` admins of that
 * version signed it (`governance approve <version>`). Every event is signed (authority.ts).
 */
import { memberOf } from '../../events/governance.js';
import { GOVERNANCE_STREAM, registryHash, type Registry } from '../../events/governance.js';
import { toStorable } from '../../events/index.js';
import { MACHINE_VERSION } from '../domain/index.js';
import { current, type GovernanceState } from '../domain/governance.js';
import { GovernanceRefusedError, InvalidInputError } from '../errors.js';
import { keysDir } from '../crypto/keys.js';
import { keyFingerprint } from '../crypto/signatures.js';
import { loadSigner } from '../crypto/signer.js';
import type { Session } from '../workspace/session.js';
import { authorityOf, readGovernance, signEvents, type Authority } from './authority.js';
import { loadGovernanceFile } from './file.js';

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

async function append(
  session: Session,
  auth: Authority,
  g: GovernanceState,
  event: { type: string; data: unknown },
): Promise<void> {
  const store = await session.store();
  const signed = await signEvents(auth, GOVERNANCE_STREAM, g.streamVersion, [
    toStorable(event as never, { machineVersion: MACHINE_VERSION }),
  ]);
  await store.append(GOVERNANCE_STREAM, signed, {
    expectedVersion: g.streamVersion === 0 ? 'no_stream' : g.streamVersion,
    context: { actor: auth.signer.name },
  });
}

/** Records genesis (first time) or proposes the next version; returns the resulting view. */
export async function applyGovernance(
  session: Session,
  file: string,
  opts: { as?: string } = {},
): Promise<GovernanceView & { applied: 'genesis' | 'effective' | 'proposed' }> {
  const registry = loadGovernanceFile(file);
  const store = await session.store();
  const pin = existsConfig(session) ? session.config().trust.root : undefined;
  const raw = await readGovernance(store);
  const at = new Date().toISOString();
  const signer = await loadSigner(opts.as ?? session.actor, { dir: keysDir(session.env), env: session.env });
  if (raw.streamVersion === 0) {
    const member = memberOf(registry, signer.name);
    if (!member || !member.roles.includes('admin'))
      throw new GovernanceRefusedError(
        `genesis must be signed by an admin it lists: ${signer.name} is not an admin in ${file}`,
      );
    if (keyFingerprint(member.publicKey) !== signer.fingerprint)
      throw new GovernanceRefusedError(
        `the key of ${signer.name} (${signer.fingerprint}) is not the key ${file} enrols for ${signer.name}`,
      );
    const auth: Authority = { signer, governance: raw, version: 1, registry };
    await append(session, auth, raw, {
      type: 'GovernanceProposed',
      data: { version: 1, registry, registryHash: registryHash(registry), previous: null, at },
    });
    return { ...viewOf(await readGovernance(store), pin), applied: 'genesis' };
  }
  const g = await session.governance();
  const cur = current(g)!;
  if (registryHash(registry) === cur.registryHash)
    throw new InvalidInputError(`governance ${file}: identical to version ${cur.version} in force; nothing to apply`);
  const auth = authorityOf(signer, g);
  await append(session, auth, g, {
    type: 'GovernanceProposed',
    data: { version: cur.version + 1, registry, registryHash: registryHash(registry), previous: cur.registryHash, at },
  });
  const after = await session.governance();
  return { ...viewOf(after, pin), applied: current(after)!.version > cur.version ? 'effective' : 'proposed' };
}

/** An admin's signature on the pending proposal of `version`. */
export async function approveGovernance(
  session: Session,
  version: number,
): Promise<GovernanceView & { effective: boolean }> {
  const g = await session.governance();
  if (!g.pending || g.pending.version !== version)
    throw new GovernanceRefusedError(
      `no proposal of governance version ${version} is pending${g.pending ? ` (pending: ${g.pending.version})` : ''}`,
    );
  const auth = authorityOf(await loadSigner(session.actor, { dir: keysDir(session.env), env: session.env }), g);
  if (g.pending.signers.has(auth.signer.fingerprint))
    throw new GovernanceRefusedError(`${auth.signer.name} has already signed governance version ${version}`);
  await append(session, auth, g, {
    type: 'GovernanceApproved',
    data: { version, registryHash: g.pending.registryHash, at: new Date().toISOString() },
  });
  const after = await session.governance();
  return { ...viewOf(after, session.config().trust.root), effective: current(after)!.version >= version };
}

/** The governance in force, read-only: checked against `trustRoot` or the configured pin (exit 3 when it differs). */
export async function showGovernance(session: Session, opts: { trustRoot?: string } = {}): Promise<GovernanceView> {
  const pin = opts.trustRoot ?? (existsConfig(session) ? session.config().trust.root : undefined);
  const g = await readGovernance(await session.store(), pin);
  const bad = g.violations.find((v) => v.rule === 'trust-root');
  if (bad) throw new GovernanceRefusedError(`this store's governance is not the pinned one: ${bad.message}`);
  return viewOf(g, pin);
}

function existsConfig(session: Session): boolean {
  try {
    session.config();
    return true;
  } catch {
    return false;
  }
}
