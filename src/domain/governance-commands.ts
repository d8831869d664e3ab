/**
 * The governance stream's commands and decider (on the one command handler, like every stream):
 * apply a registry file — genesis the first time, signed by an admin the file lists with the key it
 * enrols; later a proposal of the next version — or approve the pending proposal as an admin of the
 * version in force. Times and the signer arrive in the command; pure.
 */
import { memberOf, registryHash, type GovernanceEvent, type Registry } from '../../events/governance.js';
import { GovernanceRefusedError, InvalidInputError } from '../errors.js';
import { current, foldGovernance, type Crypto, type GovernanceState, type GovernanceStored } from './governance.js';

export type GovernanceCommand =
  /** `source` names the file in refusals. */
  | { type: 'ApplyGovernance'; registry: Registry; source: string; at: string; signer: Signatory }
  | { type: 'ApproveGovernance'; version: number; at: string; signer: Signatory };

/** Who signs the command's event: a name and the fingerprint of the key they sign with. */
export interface Signatory {
  name: string;
  fingerprint: string;
}

/** The governance decider: its fold (checked against `pin` when given) and its decisions. */
export function governanceDecider(crypto: Crypto, pin?: string) {
  return {
    fold: (events: GovernanceStored[]) => foldGovernance(events, crypto, pin),
    decide: (command: GovernanceCommand, g: GovernanceState) => decideGovernance(command, g, crypto),
  };
}

/** The event a governance command records, or GovernanceRefused / InvalidInput. */
export function decideGovernance(command: GovernanceCommand, g: GovernanceState, crypto: Crypto): GovernanceEvent[] {
  const { at, signer } = command;
  if (command.type === 'ApproveGovernance') {
    const { version } = command;
    if (!g.pending || g.pending.version !== version)
      throw new GovernanceRefusedError(
        `no proposal of governance version ${version} is pending${g.pending ? ` (pending: ${g.pending.version})` : ''}`,
      );
    if (g.pending.signers.has(signer.fingerprint))
      throw new GovernanceRefusedError(`${signer.name} has already signed governance version ${version}`);
    return [{ type: 'GovernanceApproved', data: { version, registryHash: g.pending.registryHash, at } }];
  }
  const { registry, source } = command;
  const hash = registryHash(registry);
  if (g.streamVersion === 0) {
    const member = memberOf(registry, signer.name);
    if (!member || !member.roles.includes('admin'))
      throw new GovernanceRefusedError(
        `genesis must be signed by an admin it lists: ${signer.name} is not an admin in ${source}`,
      );
    if (crypto.fingerprint(member.publicKey) !== signer.fingerprint)
      throw new GovernanceRefusedError(
        `the key of ${signer.name} (${signer.fingerprint}) is not the key ${source} enrols for ${signer.name}`,
      );
    return [{ type: 'GovernanceProposed', data: { version: 1, registry, registryHash: hash, previous: null, at } }];
  }
  const cur = current(g);
  if (!cur) throw new GovernanceRefusedError('this store has no governance in force');
  if (hash === cur.registryHash)
    throw new InvalidInputError(`governance ${source}: identical to version ${cur.version} in force; nothing to apply`);
  return [
    {
      type: 'GovernanceProposed',
      data: { version: cur.version + 1, registry, registryHash: hash, previous: cur.registryHash, at },
    },
  ];
}
