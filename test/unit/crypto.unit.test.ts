/** Approval signatures, key files and OpenPGP backups — including decryption by the real gpg. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyApprovalSignature } from '../../machines/approvals.js';
import { sha256 } from '../../events/canonical.js';
import { signApproval } from '../../src/crypto/approvals.js';
import { decryptBackup, encryptBackup } from '../../src/crypto/backup.js';
import { generateBackupKey, loadBackupPrivateKey } from '../../src/crypto/backup-keys.js';
import { generateApproverKey, loadApproverKey } from '../../src/crypto/keys.js';
import { InvalidInputError } from '../../src/errors.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'cutter-keys-'));
const payload = { cutId: 'c1', planHash: 'a'.repeat(64), decision: 'approve' as const, at: '2026-11-25T10:00:00.000Z' };

describe('approval keys', () => {
  it('signs a payload that verifies only with the same key and the same payload', async () => {
    const dir = tmp();
    const alice = await generateApproverKey('alice', { dir });
    const bob = await generateApproverKey('bob', { dir });
    const signature = signApproval(await loadApproverKey('alice', { dir }), payload);
    expect(verifyApprovalSignature({ ...payload, signature, publicKey: alice.publicKey })).toBe(true);
    expect(verifyApprovalSignature({ ...payload, signature, publicKey: bob.publicKey })).toBe(false);
    expect(
      verifyApprovalSignature({ ...payload, planHash: 'b'.repeat(64), signature, publicKey: alice.publicKey }),
    ).toBe(false);
    expect(alice.publicKey).toMatch(/^ed25519:[A-Za-z0-9+/]{43}=$/);
  });

  it('writes private keys 0600 and never overwrites them', async () => {
    const dir = tmp();
    const k = await generateApproverKey('carol', { dir });
    expect(statSync(k.privateKeyPath).mode & 0o777).toBe(0o600);
    await expect(generateApproverKey('carol', { dir })).rejects.toBeInstanceOf(InvalidInputError);
    await expect(generateApproverKey('../evil', { dir })).rejects.toThrow(/name/);
    await expect(loadApproverKey('nobody', { dir })).rejects.toThrow(/no approver key/);
  });
});

describe('backups', () => {
  it('round-trips through a passphrase-protected key and checks the plaintext hash', async () => {
    const dir = tmp();
    const k = await generateBackupKey('backup', { dir, passphrase: 'correct horse' });
    const plaintext = JSON.stringify({ rows: [{ id: 'KB-1', title: 'ü ✓' }] });
    const { armored, recipients } = await encryptBackup(plaintext, [readFileSync(k.publicKeyPath, 'utf8')]);
    expect(recipients).toEqual([k.fingerprint]);
    expect(armored).not.toContain('KB-1');
    await expect(loadBackupPrivateKey({ dir, recipients, env: {} })).rejects.toThrow(/CUTTER_BACKUP_PASSPHRASE/);
    await expect(loadBackupPrivateKey({ dir, recipients, env: { CUTTER_BACKUP_PASSPHRASE: 'wrong' } })).rejects.toThrow(
      /does not unlock/,
    );
    const key = await loadBackupPrivateKey({ dir, recipients, env: { CUTTER_BACKUP_PASSPHRASE: 'correct horse' } });
    expect(await decryptBackup(armored, key, sha256(plaintext))).toBe(plaintext);
    await expect(decryptBackup(armored, key, sha256('other'))).rejects.toThrow(/differs/);
  });

  const gpg = spawnSync('gpg', ['--version']).status === 0;
  it.skipIf(!gpg)('is decryptable by stock gpg with the exported key', async () => {
    const dir = tmp();
    const k = await generateBackupKey('backup', { dir, passphrase: 'pw' });
    const plaintext = JSON.stringify({ preImage: [{ key: { id: 'A' }, row: null }] });
    const { armored } = await encryptBackup(plaintext, [readFileSync(k.publicKeyPath, 'utf8')]);
    const home = tmp();
    const msg = path.join(home, 'backup.asc');
    writeFileSync(msg, armored);
    const base = ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', 'pw'];
    execFileSync('gpg', [...base, '--import', k.privateKeyPath], { stdio: 'pipe' });
    const out = execFileSync('gpg', [...base, '--decrypt', msg], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    expect(out).toBe(plaintext);
    expect(existsSync(k.publicKeyPath)).toBe(true);
  });
});
