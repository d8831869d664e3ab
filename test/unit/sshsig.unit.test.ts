/**
 * OpenSSH signatures (SSHSIG) against the real OpenSSH: keys made by ssh-keygen, signatures made by
 * ssh-keygen (directly, through signWithSshKeygen, through ssh-agent) verified by cutter's pure
 * verifier, and cutter-obtained signatures verified by `ssh-keygen -Y check-novalidate`.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import {
  parseSshEd25519PublicKey,
  signWithSshKeygen,
  sshPublicKeyFingerprint,
  verifySshSig,
} from '../../src/crypto/sshsig.js';

const NS = 'cutter';
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'cutter-sshsig-'));

/** A fresh unencrypted key made by ssh-keygen; returns the private key path (public at `${file}.pub`). */
function sshKeygen(dir: string, name: string, type = 'ed25519', passphrase = ''): string {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', `${name}@test`, '-f', file]);
  return file;
}
const publicKeyOf = (file: string) => parseSshEd25519PublicKey(readFileSync(`${file}.pub`, 'utf8'));

/** `ssh-keygen -Y sign` run directly, message on stdin. */
function plainSign(keyFile: string, message: Buffer, namespace = NS, extra: string[] = []): string {
  return execFileSync('ssh-keygen', ['-Y', 'sign', '-f', keyFile, '-n', namespace, ...extra], {
    input: message,
    stdio: ['pipe', 'pipe', 'ignore'],
  }).toString();
}

const dearmor = (armored: string) =>
  Buffer.from(
    armored
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .join(''),
    'base64',
  );
const armor = (blob: Buffer) =>
  [
    '-----BEGIN SSH SIGNATURE-----',
    ...(blob.toString('base64').match(/.{1,70}/g) ?? []),
    '-----END SSH SIGNATURE-----',
    '',
  ].join('\n');
const wireString = (s: Buffer | string) => {
  const b = Buffer.from(s);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};
const keyLine = (blob: Buffer) => `ssh-ed25519 ${blob.toString('base64')} x@y`;

async function failureOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('parseSshEd25519PublicKey', () => {
  const dir = tmp();
  const key = sshKeygen(dir, 'alice');

  it('reads the raw 32 bytes of an ssh-keygen .pub line, comment or not', () => {
    const line = readFileSync(`${key}.pub`, 'utf8');
    const raw = parseSshEd25519PublicKey(line);
    expect(raw).toHaveLength(32);
    expect(parseSshEd25519PublicKey(line.split(' ').slice(0, 2).join(' '))).toEqual(raw);
    expect(Buffer.concat([wireString('ssh-ed25519'), wireString(raw)]).toString('base64')).toBe(line.split(' ')[1]);
  });

  it('refuses anything else with a message naming what is wrong', () => {
    const rsa = readFileSync(`${sshKeygen(dir, 'rsa', 'rsa')}.pub`, 'utf8');
    const raw = publicKeyOf(key);
    const cases: Record<string, string> = {
      empty: '  \n',
      'several lines': `${readFileSync(`${key}.pub`, 'utf8').trim()}\n${readFileSync(`${key}.pub`, 'utf8')}`,
      'rsa key': rsa,
      'authorized_keys options': `restrict ${readFileSync(`${key}.pub`, 'utf8')}`,
      'no base64': 'ssh-ed25519',
      'bad base64': 'ssh-ed25519 AAAA!!!! x@y',
      'unpadded base64': `ssh-ed25519 ${keyLine(Buffer.concat([wireString('ssh-ed25519'), wireString(raw.subarray(1))]))
        .split(' ')[1]!
        .replace(/=+$/, '')}`,
      'inner type differs': keyLine(Buffer.concat([wireString('ssh-rsa'), wireString(raw)])),
      'short key': keyLine(Buffer.concat([wireString('ssh-ed25519'), wireString(raw.subarray(0, 31))])),
      'truncated blob': keyLine(Buffer.concat([wireString('ssh-ed25519'), wireString(raw)]).subarray(0, 40)),
      'trailing bytes': keyLine(Buffer.concat([wireString('ssh-ed25519'), wireString(raw), Buffer.from([0, 0, 0])])),
    };
    const messages = Object.fromEntries(
      Object.entries(cases).map(([name, line]) => {
        try {
          parseSshEd25519PublicKey(line);
          return [name, 'accepted'];
        } catch (e) {
          expect(e).toBeInstanceOf(InvalidInputError);
          return [name, (e as Error).message];
        }
      }),
    );
    expect(messages).toMatchInlineSnapshot(`
      {
        "authorized_keys options": "ssh public key: type "restrict" is not supported, only ssh-ed25519",
        "bad base64": "ssh public key: the key is not valid base64",
        "empty": "ssh public key: empty",
        "inner type differs": "ssh public key: the key blob says type "ssh-rsa", not ssh-ed25519",
        "no base64": "ssh public key: the base64 key after the type is missing",
        "rsa key": "ssh public key: type "ssh-rsa" is not supported, only ssh-ed25519",
        "several lines": "ssh public key: expected one line, got several",
        "short key": "ssh public key: an ssh-ed25519 key is 32 bytes, this one is 31",
        "trailing bytes": "ssh public key: 3 trailing byte(s) after the key",
        "truncated blob": "ssh public key: the key blob is truncated",
        "unpadded base64": "ssh public key: the key is not valid base64",
      }
    `);
  });
});

describe('sshPublicKeyFingerprint', () => {
  it('equals what ssh-keygen -lf prints, for several keys', () => {
    const dir = tmp();
    for (const name of ['a', 'b', 'c']) {
      const key = sshKeygen(dir, name);
      const printed = execFileSync('ssh-keygen', ['-lf', `${key}.pub`])
        .toString()
        .split(' ')[1];
      expect(sshPublicKeyFingerprint(publicKeyOf(key))).toBe(printed);
    }
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => sshPublicKeyFingerprint(Buffer.alloc(31))).toThrow(InvalidInputError);
  });
});

describe('signatures made by ssh-keygen, verified in pure node', () => {
  const dir = tmp();
  const alice = sshKeygen(dir, 'alice');
  const bob = sshKeygen(dir, 'bob');
  const aliceKey = publicKeyOf(alice);
  const message = Buffer.from('{"cutId":"c1","planHash":"aa"}\n\u0000binary\xff tail');
  let signature = '';

  beforeAll(async () => {
    signature = await signWithSshKeygen({ keyFile: alice, message, namespace: NS });
  });

  it('signWithSshKeygen returns an armored SSHSIG that verifies with the signer key', () => {
    expect(signature).toMatch(/^-----BEGIN SSH SIGNATURE-----\n[A-Za-z0-9+/=\n]+-----END SSH SIGNATURE-----\n$/);
    expect(verifySshSig({ publicKey: aliceKey, message, signature, namespace: NS })).toBe(true);
  });

  it('ssh-keygen -Y check-novalidate accepts what signWithSshKeygen returned', () => {
    const sigFile = path.join(dir, 'msg.sig');
    writeFileSync(sigFile, signature);
    const ok = spawnSync('ssh-keygen', ['-Y', 'check-novalidate', '-n', NS, '-s', sigFile], { input: message });
    expect(ok.status, ok.stderr.toString()).toBe(0);
    const tampered = spawnSync('ssh-keygen', ['-Y', 'check-novalidate', '-n', NS, '-s', sigFile], {
      input: Buffer.from('other'),
    });
    expect(tampered.status).not.toBe(0);
  });

  it('a signature made by plain ssh-keygen -Y sign verifies, with sha512 (default) and sha256', () => {
    for (const extra of [[], ['-O', 'hashalg=sha256'], ['-O', 'hashalg=sha512']]) {
      const sig = plainSign(alice, message, NS, extra);
      expect(verifySshSig({ publicKey: aliceKey, message, signature: sig, namespace: NS })).toBe(true);
    }
    expect(dearmor(plainSign(alice, message, NS, ['-O', 'hashalg=sha256'])).includes('sha256')).toBe(true);
  });

  it('an empty message signs and verifies', async () => {
    const empty = Buffer.alloc(0);
    const sig = await signWithSshKeygen({ keyFile: alice, message: empty, namespace: NS });
    expect(verifySshSig({ publicKey: aliceKey, message: empty, signature: sig, namespace: NS })).toBe(true);
  });

  it('tolerates CRLF line ends and surrounding whitespace in the armor', () => {
    expect(
      verifySshSig({
        publicKey: aliceKey,
        message,
        signature: `\n  ${signature.replace(/\n/g, '\r\n')}  \n`,
        namespace: NS,
      }),
    ).toBe(true);
  });

  it('refuses a tampered message, another key, another namespace', () => {
    expect(
      verifySshSig({
        publicKey: aliceKey,
        message: Buffer.concat([message, Buffer.from(' ')]),
        signature,
        namespace: NS,
      }),
    ).toBe(false);
    expect(verifySshSig({ publicKey: publicKeyOf(bob), message, signature, namespace: NS })).toBe(false);
    expect(verifySshSig({ publicKey: aliceKey, message, signature, namespace: 'git' })).toBe(false);
    const gitSig = plainSign(alice, message, 'git');
    expect(verifySshSig({ publicKey: aliceKey, message, signature: gitSig, namespace: NS })).toBe(false);
    expect(verifySshSig({ publicKey: aliceKey, message, signature: gitSig, namespace: 'git' })).toBe(true);
  });

  it('refuses a signature that embeds a key other than the expected one, even if valid for that key', () => {
    const bobSig = plainSign(bob, message);
    expect(verifySshSig({ publicKey: publicKeyOf(bob), message, signature: bobSig, namespace: NS })).toBe(true);
    expect(verifySshSig({ publicKey: aliceKey, message, signature: bobSig, namespace: NS })).toBe(false);
  });

  it('refuses truncated or garbled armor, and inputs of the wrong type, without throwing', () => {
    const lines = signature.trimEnd().split('\n');
    const garbled = [
      '',
      'not a signature',
      signature.slice(0, signature.length - 40),
      signature.replace('-----BEGIN SSH SIGNATURE-----', '-----BEGIN SSH SIGNATUR-----'),
      signature.replace('-----END SSH SIGNATURE-----', ''),
      [lines[0], ...lines.slice(2)].join('\n'),
      [lines[0], lines[1], lines[3], lines[2], ...lines.slice(4)].join('\n'),
      signature.replace(/[A-Za-z]/, '*'),
      signature.replace(/=\n/, '\n'),
      armor(Buffer.concat([dearmor(signature), Buffer.from([0])])),
      armor(dearmor(signature).subarray(0, 100)),
      `-----BEGIN SSH SIGNATURE-----\n${'A'.repeat(20_000)}\n-----END SSH SIGNATURE-----\n`,
    ];
    for (const sig of garbled)
      expect(verifySshSig({ publicKey: aliceKey, message, signature: sig, namespace: NS })).toBe(false);
    const bad: any[] = [
      { publicKey: aliceKey.subarray(0, 31), message, signature, namespace: NS },
      { publicKey: 'alice', message, signature, namespace: NS },
      { publicKey: aliceKey, message: 'text', signature, namespace: NS },
      { publicKey: aliceKey, message, signature: Buffer.from(signature), namespace: NS },
      { publicKey: aliceKey, message, signature, namespace: '' },
      { publicKey: aliceKey, message, signature, namespace: undefined },
      {},
      null,
    ];
    for (const args of bad) expect(verifySshSig(args)).toBe(false);
  });

  it('refuses a re-encoded blob with a non-empty reserved field, an unknown hash algorithm or a non-canonical inner signature', () => {
    // Rebuild the blob field by field: reserved = "x"; hash_algorithm = "sha384".
    const blob = dearmor(signature);
    const fields: Buffer[] = [];
    let at = 10;
    while (at < blob.length) {
      const n = blob.readUInt32BE(at);
      fields.push(blob.subarray(at + 4, at + 4 + n));
      at += 4 + n;
    }
    expect(fields.map((f) => f.length)).toEqual([51, 6, 0, 6, 83]);
    const rebuild = (f: Buffer[]) => armor(Buffer.concat([blob.subarray(0, 10), ...f.map(wireString)]));
    expect(verifySshSig({ publicKey: aliceKey, message, signature: rebuild(fields), namespace: NS })).toBe(true);
    const reserved = [fields[0]!, fields[1]!, Buffer.from('x'), fields[3]!, fields[4]!];
    const sha384 = [fields[0]!, fields[1]!, fields[2]!, Buffer.from('sha384'), fields[4]!];
    expect(verifySshSig({ publicKey: aliceKey, message, signature: rebuild(reserved), namespace: NS })).toBe(false);
    expect(verifySshSig({ publicKey: aliceKey, message, signature: rebuild(sha384), namespace: NS })).toBe(false);
    // The inner signature (string type | string sig[64]): trailing bytes or another type name are refused.
    const inner = fields[4]!;
    const sig64 = inner.subarray(inner.length - 64);
    const innerTrailing = [...fields.slice(0, 4), Buffer.concat([inner, Buffer.from([0])])];
    const innerType = [...fields.slice(0, 4), Buffer.concat([wireString('ssh-ed448'), wireString(sig64)])];
    expect(
      verifySshSig({
        publicKey: aliceKey,
        message,
        signature: rebuild([...fields.slice(0, 4), Buffer.concat([wireString('ssh-ed25519'), wireString(sig64)])]),
        namespace: NS,
      }),
    ).toBe(true);
    expect(verifySshSig({ publicKey: aliceKey, message, signature: rebuild(innerTrailing), namespace: NS })).toBe(
      false,
    );
    expect(verifySshSig({ publicKey: aliceKey, message, signature: rebuild(innerType), namespace: NS })).toBe(false);
  });

  it('refuses a signature made with an RSA key (whatever key is expected)', () => {
    const rsa = sshKeygen(dir, 'rsa', 'rsa');
    const sig = plainSign(rsa, message);
    expect(verifySshSig({ publicKey: aliceKey, message, signature: sig, namespace: NS })).toBe(false);
  });

  it('random bit flips anywhere in the decoded signature blob never verify', () => {
    const blob = dearmor(signature);
    const bits = blob.length * 8;
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat({ max: bits - 1 }), { minLength: 1, maxLength: 8 }), (flips) => {
        const copy = Buffer.from(blob);
        for (const bit of flips) copy[bit >> 3]! ^= 1 << (bit & 7);
        return !verifySshSig({ publicKey: aliceKey, message, signature: armor(copy), namespace: NS });
      }),
      { numRuns: 2000 },
    );
    // And every single-bit flip, exhaustively (the blob is under 200 bytes).
    for (let bit = 0; bit < bits; bit++) {
      const copy = Buffer.from(blob);
      copy[bit >> 3]! ^= 1 << (bit & 7);
      expect(verifySshSig({ publicKey: aliceKey, message, signature: armor(copy), namespace: NS })).toBe(false);
    }
  });
});

describe('signWithSshKeygen through ssh-agent', () => {
  const dir = tmp();
  const sock = path.join(dir, 'agent.sock');
  const env = { ...process.env, SSH_AUTH_SOCK: sock };
  let agent: ChildProcess | undefined;

  beforeAll(async () => {
    agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(sock)).toBe(true);
  });
  afterAll(() => {
    if (agent?.pid) process.kill(agent.pid);
  });

  it('signs with the .pub file alone when the private key is only in the agent', async () => {
    const key = sshKeygen(dir, 'carol');
    execFileSync('ssh-add', ['-q', key], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(key, path.join(dir, 'carol.moved-away')); // no private key file left beside the .pub
    const message = Buffer.from('signed by the agent');
    const signature = await signWithSshKeygen({ keyFile: `${key}.pub`, message, namespace: NS, env });
    expect(verifySshSig({ publicKey: publicKeyOf(key), message, signature, namespace: NS })).toBe(true);
    const withoutAgent = await failureOf(
      signWithSshKeygen({ keyFile: `${key}.pub`, message, namespace: NS, env: { ...process.env, SSH_AUTH_SOCK: '' } }),
    );
    expect(withoutAgent).toBeInstanceOf(InvalidInputError);
  });

  it('uses the agent for an encrypted key file whose key is loaded there', async () => {
    const key = sshKeygen(dir, 'dave', 'ed25519', 'correct horse');
    execFileSync('ssh-add', ['-q', key], {
      env: { ...env, SSH_ASKPASS_REQUIRE: 'force', SSH_ASKPASS: writeAskpass(dir, 'correct horse') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const message = Buffer.from('encrypted on disk, unlocked in the agent');
    const signature = await signWithSshKeygen({ keyFile: key, message, namespace: NS, env });
    expect(verifySshSig({ publicKey: publicKeyOf(key), message, signature, namespace: NS })).toBe(true);
  });
});

function writeAskpass(dir: string, passphrase: string): string {
  const file = path.join(dir, `askpass-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' '${passphrase}'\n`, { mode: 0o700 });
  return file;
}

describe('signWithSshKeygen failures', () => {
  const dir = tmp();
  const message = Buffer.from('hello');

  it('names a missing ssh-keygen', async () => {
    const e = await failureOf(
      signWithSshKeygen({ keyFile: sshKeygen(dir, 'k1'), message, namespace: NS, env: { PATH: '/nonexistent' } }),
    );
    expect(e).toBeInstanceOf(InvalidInputError);
    expect(e.message).toMatchInlineSnapshot(
      `"ssh-keygen not found on PATH: install OpenSSH 8.2 or later to sign with an SSH key"`,
    );
  });

  it('carries ssh-keygen stderr when the key file does not exist', async () => {
    const e = await failureOf(signWithSshKeygen({ keyFile: path.join(dir, 'absent'), message, namespace: NS }));
    expect(e).toBeInstanceOf(InvalidInputError);
    expect(e.message.replaceAll(dir, '<dir>')).toMatchInlineSnapshot(
      `"ssh-keygen -Y sign -f <dir>/absent failed (exit 255): Couldn't load public key <dir>/absent: No such file or directory"`,
    );
  });

  it('never takes the message as a passphrase: an encrypted key without agent or askpass fails', async () => {
    const passphrase = 'hunter2-secret';
    const key = sshKeygen(dir, 'locked', 'ed25519', passphrase);
    const env = { ...process.env, SSH_AUTH_SOCK: '', SSH_ASKPASS: '', DISPLAY: '' };
    const e = await failureOf(
      signWithSshKeygen({ keyFile: key, message: Buffer.from(`${passphrase}\nrest`), namespace: NS, env }),
    );
    expect(e).toBeInstanceOf(InvalidInputError);
    expect(e.message).toMatch(/incorrect passphrase/);
    expect(e.message).not.toContain(passphrase);
  });

  it('uses the caller SSH_ASKPASS for an encrypted key, and never shows the passphrase', async () => {
    const key = sshKeygen(dir, 'asked', 'ed25519', 'open sesame');
    const env = { ...process.env, SSH_AUTH_SOCK: '', SSH_ASKPASS: writeAskpass(dir, 'open sesame') };
    const signature = await signWithSshKeygen({ keyFile: key, message, namespace: NS, env });
    expect(verifySshSig({ publicKey: publicKeyOf(key), message, signature, namespace: NS })).toBe(true);
    const wrong = await failureOf(
      signWithSshKeygen({
        keyFile: key,
        message,
        namespace: NS,
        env: { ...env, SSH_ASKPASS: writeAskpass(dir, 'wrong guess') },
      }),
    );
    expect(wrong).toBeInstanceOf(InvalidInputError);
    expect(wrong.message).toMatch(/incorrect passphrase/);
    expect(wrong.message).not.toContain('wrong guess');
  });

  it('refuses an RSA key and an unusable namespace', async () => {
    const rsa = await failureOf(signWithSshKeygen({ keyFile: sshKeygen(dir, 'rsa', 'rsa'), message, namespace: NS }));
    expect(rsa).toBeInstanceOf(InvalidInputError);
    expect(rsa.message.replaceAll(dir, '<dir>')).toMatchInlineSnapshot(
      `"ssh signature: <dir>/rsa: key type ssh-rsa is not supported, only ssh-ed25519"`,
    );
    for (const namespace of ['', 'two words', 'x'.repeat(65)]) {
      await expect(
        signWithSshKeygen({ keyFile: sshKeygen(dir, `n${namespace.length}`), message, namespace }),
      ).rejects.toBeInstanceOf(InvalidInputError);
    }
  });
});
