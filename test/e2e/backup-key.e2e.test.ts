/**
 * Revert finds the backup private key by fingerprint (issue #17): a keypair made with
 * `cutter keys generate vault --backup` and listed under backup.recipients is found among the keys
 * directory's `*.backup.key.asc` (or CUTTER_BACKUP_KEY); without it, revert says which fingerprint it needs.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { cutter } from '../support/cli.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
beforeAll(async () => {
  ws = await testWorkspace({ rows: 20 });
  ws.writePlan('plan', bigPlan('cut-vault', 4, 20));
});
afterAll(async () => ws?.drop());

const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  cutter(args, { cwd: ws.dir, env: { ...ws.env, ...env } });

describe('revert with a backup key not named "backup"', () => {
  it('finds the private key whose fingerprint is a recipient of the stored backup, else names the fingerprint it needs', async () => {
    // Only the vault keypair is a recipient; the workspace's own "backup" keypair is gone, a decoy stays.
    const vault = await run(['keys', 'generate', 'vault', '--backup', '--json']);
    expect(vault.code, vault.stderr).toBe(0);
    const decoy = await run(['keys', 'generate', 'decoy', '--backup', '--json']);
    expect(decoy.code, decoy.stderr).toBe(0);
    for (const f of ['backup.backup.key.asc', 'backup.backup.pub.asc']) rmSync(path.join(ws.keys, f));
    const configFile = path.join(ws.dir, 'cutter.config.yaml');
    const config = parse(readFileSync(configFile, 'utf8'));
    config.backup.recipients = [vault.json.publicKeyPath];
    writeFileSync(configFile, stringify(config));
    const before = await ws.target.snapshot();

    expect((await run(['plan', 'plan.yaml', '--as', 'erin'])).code).toBe(0);
    for (const a of ['alice', 'bob']) expect((await run(['approve', 'cut-vault', '--as', a])).code).toBe(0);
    expect((await run(['run', 'cut-vault', '--dry-run', '--as', 'erin'])).code).toBe(0);
    const live = await run(['run', 'cut-vault', '--live', '--as', 'erin']);
    expect(live.code, live.stderr).toBe(0);

    // Without the vault private key: exit 2, naming the fingerprint the backup needs.
    const fp = vault.json.fingerprint as string;
    const hidden = path.join(ws.dir, 'vault.key.asc.hidden');
    renameSync(vault.json.privateKeyPath, hidden);
    const missing = await run(['revert', 'cut-vault', '--dry-run', '--as', 'erin']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(fp);
    expect(missing.stderr).not.toContain('    at ');
    // CUTTER_BACKUP_KEY naming a key that is not a recipient: the same refusal.
    const wrong = await run(['revert', 'cut-vault', '--dry-run', '--as', 'erin'], {
      CUTTER_BACKUP_KEY: decoy.json.privateKeyPath,
    });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(fp);
    // CUTTER_BACKUP_KEY naming the right key, anywhere.
    const explicit = await run(['revert', 'cut-vault', '--dry-run', '--as', 'erin', '--json'], {
      CUTTER_BACKUP_KEY: hidden,
    });
    expect(explicit.code, explicit.stderr).toBe(0);

    renameSync(hidden, vault.json.privateKeyPath);
    const reverted = await run(['revert', 'cut-vault', '--live', '--as', 'erin']);
    expect(reverted.code, reverted.stderr).toBe(0);
    expect(await ws.target.snapshot()).toEqual(before);
  });
});
