/**
 * Key files: Ed25519 approver keys here, OpenPGP backup keypairs in ./backup-keys.ts (apart, so that
 * the commands that only sign or need the keys directory do not load OpenPGP: `cutter status` starts
 * ~25 ms sooner), all in $CUTTER_KEYS_DIR or ~/.config/cutter/keys (directory 0700, private files
 * 0600). Existing keys are never overwritten.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidInputError } from '../errors.js';
import { parsePrivateKey, publicKeyText } from './approvals.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The keys directory for this environment. */
export function keysDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.CUTTER_KEYS_DIR ?? path.join(os.homedir(), '.config', 'cutter', 'keys'));
}

export function checkName(name: string): void {
  if (!NAME.test(name))
    throw new InvalidInputError(`name: ${JSON.stringify(name)} must be letters, digits, ".", "_" or "-"`);
}

export const approverKeyPath = (dir: string, name: string) => path.join(dir, `${name}.ed25519.key`);
export const backupKeyPaths = (dir: string, name: string) => ({
  publicKeyPath: path.join(dir, `${name}.backup.pub.asc`),
  privateKeyPath: path.join(dir, `${name}.backup.key.asc`),
});

export async function writeSecret(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await fs.writeFile(file, text, { mode: 0o600, flag: 'wx' });
}

/** Makes an Ed25519 approver key; returns the public key text for the config. */
export async function generateApproverKey(
  name: string,
  opts: { dir: string },
): Promise<{ name: string; publicKey: string; privateKeyPath: string }> {
  checkName(name);
  const privateKeyPath = approverKeyPath(opts.dir, name);
  if (existsSync(privateKeyPath))
    throw new InvalidInputError(`keys: ${privateKeyPath} already exists (never overwritten)`);
  const { privateKey } = generateKeyPairSync('ed25519');
  await writeSecret(privateKeyPath, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
  return { name, publicKey: publicKeyText(privateKey), privateKeyPath };
}

/** Loads an approver's private key. */
export async function loadApproverKey(name: string, opts: { dir: string }) {
  checkName(name);
  const file = approverKeyPath(opts.dir, name);
  if (!existsSync(file))
    throw new InvalidInputError(`--as ${name}: no approver key at ${file} (cutter keys generate ${name})`);
  return parsePrivateKey(await fs.readFile(file, 'utf8'), file);
}

/** The public key text of an existing approver key. */
export async function readApproverPublicKey(name: string, opts: { dir: string }): Promise<string> {
  return publicKeyText(await loadApproverKey(name, opts));
}
