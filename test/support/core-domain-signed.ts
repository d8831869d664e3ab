/**
 * Signed stored events for the pure trust core (src/domain/governance.ts, trust.ts), without a
 * database: real Ed25519 keys, real signatures over `signedMessage`, explicit commit points.
 */
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { approvalPayload } from '../../machines/approvals.js';
import { registryHash, type Registry } from '../../events/governance.js';
import { signedMessage } from '../../events/signature.js';
import type { GovernanceStored } from '../../src/domain/governance.js';
import { publicKeyText } from '../../src/crypto/approvals.js';
import { keyFingerprint } from '../../src/crypto/signatures.js';
import { HASH, planned } from './cut-events.js';

export const NAMES = ['root', 'root2', 'root3', 'alice', 'bob', 'erin', 'olga', 'mallory'] as const;
export type Name = (typeof NAMES)[number];
export const keys = Object.fromEntries(NAMES.map((n) => [n, generateKeyPairSync('ed25519').privateKey])) as Record<
  Name,
  KeyObject
>;
export const pub = (n: Name) => publicKeyText(keys[n]);
export const fp = (n: Name) => keyFingerprint(pub(n));
export const POLICY = { requiredApprovals: 2, approvalTtlSeconds: 3600, requireDryRun: true, maxRows: 100 };

export const registry = (over: Partial<Registry> = {}): Registry => ({
  members: {
    root: { publicKey: pub('root'), roles: ['admin'] },
    alice: { publicKey: pub('alice'), roles: ['approver', 'owner'] },
    bob: { publicKey: pub('bob'), roles: ['approver'] },
    erin: { publicKey: pub('erin'), roles: ['author', 'operator'] },
    olga: { publicKey: pub('olga'), roles: ['operator'] },
  },
  policy: POLICY,
  admins: { threshold: 1 },
  ...over,
});

export type Signed = GovernanceStored & { streamId: string };
let tx = 1000;
/** The next commit point (transaction ids grow; each event in its own transaction). */
export const nextPoint = () => {
  tx++;
  return { transactionId: String(tx), globalPosition: String(tx) };
};

export interface SignOpts {
  /** Sign with this key instead of the signer's own (a forgery). */
  key?: KeyObject;
  /** Governance version named in the signature (default 1). */
  governance?: number;
  schemaVersion?: number;
  /** Commit point; `null` for none; default the next one. */
  point?: { transactionId: string; globalPosition: string } | null;
  eventId?: string | null;
  actor?: string | null;
}

/** A stored event signed by `by`. */
export function signed(
  streamId: string,
  version: number,
  type: string,
  data: unknown,
  by: string,
  opts: SignOpts = {},
): Signed {
  const eventId = opts.eventId === null ? undefined : (opts.eventId ?? randomUUID());
  const key = opts.key ?? keys[by as Name];
  const fields = { signer: by, key: keyFingerprint(publicKeyText(key)), governance: opts.governance ?? 1 };
  const schemaVersion = opts.schemaVersion ?? 1;
  const sig = sign(
    null,
    signedMessage({ streamId, version, eventId: eventId ?? '', type, schemaVersion, data, ...fields }),
    key,
  ).toString('base64');
  const point = opts.point === null ? {} : (opts.point ?? nextPoint());
  const actor = opts.actor === null ? {} : { actor: opts.actor ?? by };
  return {
    streamId,
    version,
    ...(eventId ? { eventId } : {}),
    type,
    data,
    metadata: { schemaVersion, ...actor, signature: { ...fields, scheme: 'ed25519', sig } },
    ...point,
  };
}

export const T = '2026-11-30T10:00:00.000Z';
export const genesisData = (r: Registry = registry()) => ({
  version: 1,
  registry: r,
  registryHash: registryHash(r),
  previous: null,
  at: T,
});
export const genesis = (r: Registry = registry(), by: Name = 'root', opts: SignOpts = {}) =>
  signed('governance', 1, 'GovernanceProposed', genesisData(r), by, opts);
/** A proposal of version `version` (registry `r`) extending `prev`, recorded at stream version `at`. */
export const proposal = (
  at: number,
  version: number,
  r: Registry,
  prev: Registry,
  by: Name = 'root',
  opts: SignOpts = {},
) =>
  signed(
    'governance',
    at,
    'GovernanceProposed',
    { version, registry: r, registryHash: registryHash(r), previous: registryHash(prev), at: T },
    by,
    { governance: version - 1, ...opts },
  );
/** An admin's approval of proposed version `version` (registry `r`), at stream version `at`. */
export const approvalOf = (at: number, version: number, r: Registry, by: Name, opts: SignOpts = {}) =>
  signed('governance', at, 'GovernanceApproved', { version, registryHash: registryHash(r), at: T }, by, {
    governance: version - 1,
    ...opts,
  });

/** The cut's CutPlanned, signed by `by` and naming `author`. */
export const cutPlanned = (opts: { by?: Name; author?: Name; policy?: object; sign?: SignOpts } = {}) =>
  signed(
    'cut-c1',
    1,
    'CutPlanned',
    {
      ...(planned().data as object),
      author: opts.author ?? opts.by ?? 'erin',
      authorKey: pub(opts.author ?? opts.by ?? 'erin'),
      policy: opts.policy ?? POLICY,
    },
    opts.by ?? 'erin',
    opts.sign,
  );

/** An ApprovalGranted by `who` at stream version `version`, signed (event and approval) with `keyOf`'s key. */
export function cutApproval(
  who: Name,
  version: number,
  opts: {
    signer?: Name;
    keyOf?: Name;
    roles?: string[];
    governanceVersion?: number;
    cutId?: string;
    planHash?: string;
    approvalKey?: Name;
    sign?: SignOpts;
  } = {},
) {
  const p = {
    cutId: opts.cutId ?? 'c1',
    planHash: opts.planHash ?? HASH,
    decision: 'approve' as const,
    at: '2026-11-30T10:05:00.000Z',
    approver: who,
    roles: opts.roles ?? ['approver'],
    governanceVersion: opts.governanceVersion ?? 1,
  };
  const k = keys[opts.approvalKey ?? opts.keyOf ?? who];
  const data = {
    ...p,
    signature: sign(null, Buffer.from(approvalPayload(p)), k).toString('base64'),
    publicKey: publicKeyText(keys[opts.keyOf ?? who]),
  };
  return signed('cut-c1', version, 'ApprovalGranted', data, opts.signer ?? who, {
    schemaVersion: 2,
    ...(opts.keyOf ? { key: keys[opts.keyOf] } : {}),
    ...opts.sign,
  });
}

export const LOCKS = { config: true, env: true, killSwitch: true, killSwitchVersion: 0 };
/** A LiveRunStarted (or RunResumed / RunContinued) with its evidence, signed by `by`. */
export function runEvent(
  type: 'LiveRunStarted' | 'RunResumed' | 'RunContinued',
  version: number,
  opts: { by?: Name; locks?: Partial<typeof LOCKS>; approvals?: string[]; sign?: SignOpts } = {},
) {
  const data = {
    runId: 'r1',
    planHash: HASH,
    at: '2026-11-30T10:06:00.000Z',
    executor: 'postgres-table',
    evidence: {
      at: '2026-11-30T10:06:00.000Z',
      locks: { ...LOCKS, ...opts.locks },
      approvals: opts.approvals ?? ['alice', 'bob'],
    },
  };
  return signed('cut-c1', version, type, data, opts.by ?? 'erin', opts.sign);
}
export function revertEvent(
  version: number,
  opts: { by?: Name; force?: boolean; locks?: Partial<typeof LOCKS>; sign?: SignOpts } = {},
) {
  const data = {
    runId: 'rv1',
    planHash: HASH,
    at: '2026-11-30T10:07:00.000Z',
    executor: 'postgres-table',
    backupId: 'bk-1',
    force: opts.force ?? false,
    evidence: { at: '2026-11-30T10:07:00.000Z', locks: { ...LOCKS, ...opts.locks } },
  };
  return signed('cut-c1', version, 'RevertStarted', data, opts.by ?? 'erin', opts.sign);
}
