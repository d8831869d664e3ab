/** `cutter keys generate <name> [--backup]`: formatting only. */
import { generateBackupKey } from '../../crypto/backup-keys.js';
import { generateApproverKey, keysDir } from '../../crypto/keys.js';
import type { Session } from '../../workspace/session.js';
import type { Output } from '../output.js';
import { EXIT } from '../../errors.js';

export async function generate(s: Session, out: Output, name: string, backup: boolean): Promise<number> {
  const dir = keysDir(s.env);
  if (backup) {
    const k = await generateBackupKey(name, {
      dir,
      ...(s.env.CUTTER_BACKUP_PASSPHRASE ? { passphrase: s.env.CUTTER_BACKUP_PASSPHRASE } : {}),
    });
    out.result(
      k,
      () =>
        `  backup keypair ${name} (${k.fingerprint})\n` +
        `  public:  ${k.publicKeyPath}   (add to backup.recipients)\n` +
        `  private: ${k.privateKeyPath}`,
    );
  } else {
    const k = await generateApproverKey(name, { dir });
    out.result(
      k,
      () =>
        `  approver key ${name}\n` +
        `  private: ${k.privateKeyPath}\n` +
        `  config:  approvers.${name}.publicKey: "${k.publicKey}"`,
    );
  }
  return EXIT.ok;
}
