/**
 * A member's signer: the private half of an enrolled key, chosen by `--as <name>`. A cutter key is
 * `$CUTTER_KEYS_DIR/<name>.ed25519.key` (PKCS8 PEM, signed here with node:crypto); an OpenSSH key
 * is `<name>.ssh.pub` (with the private key in `<name>.ssh` or in ssh-agent), signed by
 * `ssh-keygen -Y sign -n cutter`, so the key can stay in an agent or on a hardware token.
 */
import { sign } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SSHSIG_NAMESPACE, type SignatureScheme } from '../../events/signature.js';
import { InvalidInputError } from '../errors.js';
import { approverKeyPath, loadApproverKey } from './keys.js';
import { publicKeyText } from './approvals.js';
import { keyFingerprint } from './signatures.js';
import { signWithSshKeygen } from './sshsig.js';

export interface Signer {
  name: string;
  /** Member key text: `ed25519:…` or `ssh-ed25519 AAAA…`. */
  publicKey: string;
  /** `SHA256:…` */
  fingerprint: string;
  scheme: SignatureScheme;
  /** The signature over `message`: base64 Ed25519, or an armored SSHSIG. */
  sign(message: Buffer): Promise<string>;
}

export const sshKeyPaths = (dir: string, name: string) => ({
  publicKeyPath: path.join(dir, `${name}.ssh.pub`),
  privateKeyPath: path.join(dir, `${name}.ssh`),
});

/** Loads the signer for member `name` from the keys directory; InvalidInputError when it has no key there. */
export async function loadSigner(name: string, opts: { dir: string; env?: NodeJS.ProcessEnv }): Promise<Signer> {
  if (existsSync(approverKeyPath(opts.dir, name))) {
    const key = await loadApproverKey(name, { dir: opts.dir });
    const publicKey = publicKeyText(key);
    return {
      name,
      publicKey,
      fingerprint: keyFingerprint(publicKey),
      scheme: 'ed25519',
      sign: async (m) => sign(null, m, key).toString('base64'),
    };
  }
  const ssh = sshKeyPaths(opts.dir, name);
  if (existsSync(ssh.publicKeyPath)) {
    const publicKey = readFileSync(ssh.publicKeyPath, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    if (!publicKey.startsWith('ssh-ed25519 '))
      throw new InvalidInputError(`--as ${name}: ${ssh.publicKeyPath} is not an ssh-ed25519 key`);
    const keyFile = existsSync(ssh.privateKeyPath) ? ssh.privateKeyPath : ssh.publicKeyPath;
    return {
      name,
      publicKey,
      fingerprint: keyFingerprint(publicKey),
      scheme: 'sshsig',
      sign: (message) =>
        signWithSshKeygen({ keyFile, message, namespace: SSHSIG_NAMESPACE, ...(opts.env ? { env: opts.env } : {}) }),
    };
  }
  throw new InvalidInputError(
    `--as ${name}: no key for ${name} in ${opts.dir} (${name}.ed25519.key from \`cutter keys generate ${name}\`, ` +
      `or ${name}.ssh.pub for an OpenSSH key)`,
  );
}
