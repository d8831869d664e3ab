/**
 * OpenPGP backup keypairs (ECC curve25519Legacy, so Debian's gpg 2.2 can decrypt what cutter
 * encrypts), next to the approver keys in the keys directory (./keys.ts).
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { InvalidInputError } from '../errors.js';
import { backupKeyPaths, checkName, writeSecret } from './keys.js';

/** Makes an OpenPGP backup keypair (gpg-2.2 compatible). */
export async function generateBackupKey(
  name: string,
  opts: { dir: string; passphrase?: string },
): Promise<{ name: string; fingerprint: string; publicKeyPath: string; privateKeyPath: string }> {
  checkName(name);
  const paths = backupKeyPaths(opts.dir, name);
  // Both checked before either is written: a new private key beside an older public key would
  // leave backups encrypted to a key nobody holds.
  for (const file of [paths.privateKeyPath, paths.publicKeyPath])
    if (existsSync(file)) throw new InvalidInputError(`keys: ${file} already exists (never overwritten)`);
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name: `cutter backup ${name}` }],
    format: 'armored',
    ...(opts.passphrase ? { passphrase: opts.passphrase } : {}),
  });
  await writeSecret(paths.privateKeyPath, privateKey);
  await fs.writeFile(paths.publicKeyPath, publicKey, { mode: 0o644, flag: 'wx' });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return { name, fingerprint: key.getFingerprint(), ...paths };
}

/**
 * The backup private key that opens a backup encrypted to `recipients` (OpenPGP fingerprints, as the
 * stored backup records them), decrypted: CUTTER_BACKUP_KEY when set, else the first
 * `<dir>/*.backup.key.asc` whose fingerprint (primary key or subkey) is a recipient. Passphrase from
 * CUTTER_BACKUP_PASSPHRASE. Throws InvalidInputError naming the fingerprints it needs when no key
 * matches. Never logged.
 */
export async function loadBackupPrivateKey(opts: {
  dir: string;
  recipients: string[];
  env?: NodeJS.ProcessEnv;
}): Promise<openpgp.PrivateKey> {
  const env = opts.env ?? process.env;
  const wanted = new Set(opts.recipients.map((f) => f.toLowerCase()));
  const explicit = env.CUTTER_BACKUP_KEY;
  if (explicit && !existsSync(explicit))
    throw new InvalidInputError(`CUTTER_BACKUP_KEY: no private key at ${explicit}`);
  const files = explicit
    ? [explicit]
    : (await fs.readdir(opts.dir).catch(() => [] as string[]))
        .filter((f) => f.endsWith('.backup.key.asc'))
        .sort()
        .map((f) => path.join(opts.dir, f));
  for (const file of files) {
    let key: openpgp.PrivateKey;
    try {
      key = await openpgp.readPrivateKey({ armoredKey: await fs.readFile(file, 'utf8') });
    } catch {
      if (explicit) throw new InvalidInputError(`CUTTER_BACKUP_KEY: ${file} is not an armored OpenPGP private key`);
      continue;
    }
    const fingerprints = [key.getFingerprint(), ...key.getSubkeys().map((k) => k.getFingerprint())];
    if (fingerprints.some((f) => wanted.has(f.toLowerCase()))) return unlock(key, env);
  }
  const where = explicit ? `CUTTER_BACKUP_KEY (${explicit})` : `${opts.dir}/*.backup.key.asc (${files.length} found)`;
  throw new InvalidInputError(
    `backup key: no private key in ${where} matches the backup's recipients; it needs the private key of ` +
      `${opts.recipients.join(' or ') || 'an unrecorded recipient'} (set CUTTER_KEYS_DIR or CUTTER_BACKUP_KEY)`,
  );
}

async function unlock(key: openpgp.PrivateKey, env: NodeJS.ProcessEnv): Promise<openpgp.PrivateKey> {
  if (key.isDecrypted()) return key;
  const passphrase = env.CUTTER_BACKUP_PASSPHRASE;
  if (!passphrase) throw new InvalidInputError('backup key: it is passphrase-protected; set CUTTER_BACKUP_PASSPHRASE');
  try {
    return await openpgp.decryptKey({ privateKey: key, passphrase });
  } catch {
    throw new InvalidInputError('backup key: the passphrase does not unlock it');
  }
}
