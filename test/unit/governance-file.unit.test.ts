/**
 * A governance file's errors name the fields the file has: the file writes `approvalTtl` as a
 * duration, the registry holds seconds, and a bad TTL used to be reported as `approvalTtlSeconds`.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadGovernanceFile } from '../../src/governance/file.js';

const key = `ed25519:${Buffer.from(
  generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!,
  'base64url',
).toString('base64')}`;

function file(ttl: string): string {
  const f = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutter-gov-')), 'governance.yaml');
  writeFileSync(
    f,
    `members:\n  root: { publicKey: "${key}", roles: [admin] }\n` +
      `policy: { requiredApprovals: 1, approvalTtl: ${ttl}, requireDryRun: true, maxRows: 10 }\n` +
      'admins: { threshold: 1 }\n',
  );
  return f;
}

describe('loadGovernanceFile', () => {
  it('names approvalTtl, as the file writes it, when the TTL is out of range', () => {
    expect(() => loadGovernanceFile(file('0s'))).toThrow(/policy\.approvalTtl \(0s\): Too small/);
    expect(() => loadGovernanceFile(file('0s'))).not.toThrow(/approvalTtlSeconds/);
    expect(loadGovernanceFile(file('2h')).policy.approvalTtlSeconds).toBe(7200);
  });
});
