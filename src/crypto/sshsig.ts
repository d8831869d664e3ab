/**
 * OpenSSH signatures (SSHSIG, OpenSSH's PROTOCOL.sshsig) for members who enrol an `ssh-ed25519`
 * public key instead of a cutter key file. Signing shells out to `ssh-keygen -Y sign`, so the private
 * key may stay in ssh-agent or on a hardware token; verifying is pure `node:crypto`, so an auditor
 * checks a signature offline with no OpenSSH installed. Only Ed25519 keys are accepted, and the
 * verifier is stricter than ssh-keygen: one canonical encoding, no trailing bytes, empty `reserved`.
 *
 * Wire format (all integers uint32 big-endian, `string` = uint32 length + bytes):
 *   blob        = "SSHSIG" | uint32 1 | string publickey | string namespace | string reserved
 *                 | string hash_algorithm | string signature
 *   signed data = "SSHSIG" | string namespace | string reserved | string hash_algorithm | string H(message)
 *   publickey   = string "ssh-ed25519" | string key[32]
 *   signature   = string "ssh-ed25519" | string sig[64]
 */
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { InvalidInputError } from '../errors.js';

const MAGIC = Buffer.from('SSHSIG', 'ascii');
const SIG_VERSION = 1;
const KEY_TYPE = 'ssh-ed25519';
const HASH_ALGORITHMS: ReadonlySet<string> = new Set(['sha256', 'sha512']);
const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';
/** An Ed25519 SSHSIG armors to about 300 characters; anything far larger is not one. */
const MAX_ARMOR_CHARS = 8192;
/** Printable ASCII without spaces: what cutter passes to `ssh-keygen -n` and expects back. */
const NAMESPACE = /^[\x21-\x7e]{1,64}$/;

/** Bounds-checked reader of SSH wire data; every read returns undefined past the end. */
class WireReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}
  bytes(n: number): Buffer | undefined {
    if (n < 0 || this.offset + n > this.buf.length) return undefined;
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  uint32(): number | undefined {
    const b = this.bytes(4);
    return b ? b.readUInt32BE(0) : undefined;
  }
  string(): Buffer | undefined {
    const n = this.uint32();
    return n === undefined ? undefined : this.bytes(n);
  }
  get remaining(): number {
    return this.buf.length - this.offset;
  }
}

function wireString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([len, bytes]);
}

/** Canonical base64 only (padding, no stray characters, zero pad bits), else undefined. */
function strictBase64(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** The SSH wire blob of an Ed25519 public key: string "ssh-ed25519" | string key[32]. */
function publicKeyBlob(raw: Buffer): Buffer {
  return Buffer.concat([wireString(KEY_TYPE), wireString(raw)]);
}

/** The raw key of an `ssh-ed25519` public-key blob, or a reason it is not one. */
function parsePublicKeyBlob(blob: Buffer): { key: Buffer } | { problem: string } {
  const r = new WireReader(blob);
  const type = r.string();
  if (!type) return { problem: 'the key blob is truncated' };
  if (type.toString('latin1') !== KEY_TYPE)
    return { problem: `the key blob says type ${JSON.stringify(type.toString('latin1'))}, not ${KEY_TYPE}` };
  const key = r.string();
  if (!key) return { problem: 'the key blob is truncated' };
  if (key.length !== 32) return { problem: `an ${KEY_TYPE} key is 32 bytes, this one is ${key.length}` };
  if (r.remaining !== 0) return { problem: `${r.remaining} trailing byte(s) after the key` };
  return { key: Buffer.from(key) };
}

/**
 * The raw 32-byte Ed25519 key of one OpenSSH public-key line, `ssh-ed25519 AAAA… [comment]` (the
 * format of `id_ed25519.pub`; authorized_keys options are not accepted). Pure.
 * Throws InvalidInputError naming what is wrong: empty or several lines, another key type, bad
 * base64, a blob whose inner type differs, a key that is not 32 bytes, trailing bytes.
 */
export function parseSshEd25519PublicKey(line: string): Buffer {
  const text = line.trim();
  if (text === '') throw new InvalidInputError('ssh public key: empty');
  if (/[\r\n]/.test(text)) throw new InvalidInputError('ssh public key: expected one line, got several');
  const [type, b64] = text.split(/\s+/);
  if (type !== KEY_TYPE)
    throw new InvalidInputError(`ssh public key: type ${JSON.stringify(type)} is not supported, only ${KEY_TYPE}`);
  if (b64 === undefined) throw new InvalidInputError('ssh public key: the base64 key after the type is missing');
  const blob = strictBase64(b64);
  if (!blob) throw new InvalidInputError('ssh public key: the key is not valid base64');
  const parsed = parsePublicKeyBlob(blob);
  if ('problem' in parsed) throw new InvalidInputError(`ssh public key: ${parsed.problem}`);
  return parsed.key;
}

/**
 * OpenSSH's fingerprint of an Ed25519 public key, as `ssh-keygen -lf` prints it:
 * `SHA256:` + unpadded base64 of SHA-256 over the key's wire blob. Pure.
 * Throws InvalidInputError when the key is not 32 bytes.
 */
export function sshPublicKeyFingerprint(publicKey: Buffer): string {
  if (publicKey.length !== 32)
    throw new InvalidInputError(`ssh public key: an ${KEY_TYPE} key is 32 bytes, this one is ${publicKey.length}`);
  return `SHA256:${createHash('sha256').update(publicKeyBlob(publicKey)).digest('base64').replace(/=+$/, '')}`;
}

/** The binary blob inside `-----BEGIN SSH SIGNATURE-----` armor, or undefined when malformed. */
function dearmor(armored: string): Buffer | undefined {
  if (armored.length > MAX_ARMOR_CHARS) return undefined;
  const lines = armored
    .trim()
    .split(/\r?\n/)
    .map((l) => l.trim());
  if (lines.length < 3 || lines[0] !== BEGIN || lines[lines.length - 1] !== END) return undefined;
  return strictBase64(lines.slice(1, -1).join(''));
}

interface SshSig {
  publicKey: Buffer;
  namespace: Buffer;
  hashAlgorithm: string;
  signature: Buffer;
}

/** The key type named by an SSHSIG blob's embedded public key (any type), or undefined. */
function embeddedKeyType(blob: Buffer): string | undefined {
  const r = new WireReader(blob);
  if (!r.bytes(MAGIC.length + 4)) return undefined;
  const keyBlob = r.string();
  return keyBlob && new WireReader(keyBlob).string()?.toString('latin1');
}

/** The fields of an Ed25519 SSHSIG blob in its one canonical form, or undefined. */
function parseSshSig(blob: Buffer): SshSig | undefined {
  const r = new WireReader(blob);
  const magic = r.bytes(MAGIC.length);
  if (!magic?.equals(MAGIC) || r.uint32() !== SIG_VERSION) return undefined;
  const keyBlob = r.string();
  const namespace = r.string();
  const reserved = r.string();
  const hashAlgorithm = r.string()?.toString('latin1');
  const sigBlob = r.string();
  if (!keyBlob || !namespace || !reserved || !hashAlgorithm || !sigBlob || r.remaining !== 0) return undefined;
  if (reserved.length !== 0 || !HASH_ALGORITHMS.has(hashAlgorithm)) return undefined;
  const key = parsePublicKeyBlob(keyBlob);
  if ('problem' in key) return undefined;
  const s = new WireReader(sigBlob);
  const sigType = s.string();
  const signature = s.string();
  if (sigType?.toString('latin1') !== KEY_TYPE || signature?.length !== 64 || s.remaining !== 0) return undefined;
  return { publicKey: key.key, namespace, hashAlgorithm, signature };
}

/**
 * Whether `signature` (armored SSHSIG, as `ssh-keygen -Y sign` writes it) is a valid signature by
 * the Ed25519 key `publicKey` (raw 32 bytes) over `message` in `namespace`. Checks the "SSHSIG"
 * magic, version 1, that the embedded key is ssh-ed25519 and equals `publicKey` (a signature never
 * chooses its own key), the namespace, the hash algorithm (sha256 or sha512), an empty reserved
 * field, and the Ed25519 signature over the signed-data blob.
 * The namespace must be 1-64 printable ASCII characters without spaces (what signWithSshKeygen accepts).
 * Pure and synchronous; never throws: any malformed input, of any type, returns false.
 */
export function verifySshSig(args: {
  publicKey: Buffer;
  message: Buffer;
  signature: string;
  namespace: string;
}): boolean {
  try {
    const { publicKey, message, signature, namespace } = args;
    if (!Buffer.isBuffer(publicKey) || publicKey.length !== 32 || !Buffer.isBuffer(message)) return false;
    if (typeof signature !== 'string' || typeof namespace !== 'string' || !NAMESPACE.test(namespace)) return false;
    const blob = dearmor(signature);
    const sig = blob && parseSshSig(blob);
    if (!sig || !sig.publicKey.equals(publicKey) || !sig.namespace.equals(Buffer.from(namespace, 'utf8'))) return false;
    const signedData = Buffer.concat([
      MAGIC,
      wireString(namespace),
      wireString(Buffer.alloc(0)),
      wireString(sig.hashAlgorithm),
      wireString(createHash(sig.hashAlgorithm).update(message).digest()),
    ]);
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') },
      format: 'jwk',
    });
    return verify(null, signedData, key, sig.signature);
  } catch {
    return false;
  }
}

/**
 * Signs `message` in `namespace` with OpenSSH: runs `ssh-keygen -Y sign -f <keyFile> -n <namespace>`
 * with the message on stdin (nothing secret on the command line) and returns the armored signature.
 * `keyFile` is a private key file, or a public key file whose private half is in ssh-agent
 * (`SSH_AUTH_SOCK` in `env`, default `process.env`). ssh-keygen never reads a passphrase from stdin
 * (that is the message): prompts go to `SSH_ASKPASS` if `env` sets one, otherwise an encrypted key
 * that is not in the agent fails. The result is checked before it is returned: it must be an
 * ssh-ed25519 SSHSIG that verifies with the key it embeds.
 * Throws InvalidInputError when the namespace is unusable, ssh-keygen is missing, exits non-zero
 * (its stderr in the message), or signs with a key that is not ssh-ed25519.
 */
export async function signWithSshKeygen(args: {
  keyFile: string;
  message: Buffer;
  namespace: string;
  env?: NodeJS.ProcessEnv;
}): Promise<string> {
  const { keyFile, message, namespace } = args;
  const env = args.env ?? process.env;
  if (!NAMESPACE.test(namespace)) {
    throw new InvalidInputError(
      `ssh signature: namespace ${JSON.stringify(namespace)} must be 1-64 printable ASCII characters without spaces`,
    );
  }
  if (keyFile === '') throw new InvalidInputError('ssh signature: the key file is empty');
  const { status, stdout, stderr } = await runSshKeygen(['-Y', 'sign', '-f', keyFile, '-n', namespace], message, {
    ...env,
    SSH_ASKPASS_REQUIRE: 'force',
    SSH_ASKPASS: env.SSH_ASKPASS || 'false',
  });
  const said = stderr
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '' && l.trim() !== 'Signing data on standard input')
    .join('; ');
  if (status !== 'exit 0')
    throw new InvalidInputError(`ssh-keygen -Y sign -f ${keyFile} failed (${status}): ${said || 'no message'}`);
  const armored = stdout.trim() + '\n';
  const blob = dearmor(armored);
  const keyType = blob && embeddedKeyType(blob);
  if (keyType !== undefined && keyType !== KEY_TYPE) {
    throw new InvalidInputError(`ssh signature: ${keyFile}: key type ${keyType} is not supported, only ${KEY_TYPE}`);
  }
  const sig = blob && parseSshSig(blob);
  if (!sig || !verifySshSig({ publicKey: sig.publicKey, message, signature: armored, namespace })) {
    throw new InvalidInputError(
      `ssh-keygen -Y sign -f ${keyFile} returned output that is not a valid ${KEY_TYPE} SSH signature`,
    );
  }
  return armored;
}

function runSshKeygen(
  argv: string[],
  input: Buffer,
  env: NodeJS.ProcessEnv,
): Promise<{ status: string; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh-keygen', argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // ssh-keygen may exit before reading (bad key file): its exit code says why.
    child.stdin.on('error', () => undefined);
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'ENOENT'
          ? new InvalidInputError('ssh-keygen not found on PATH: install OpenSSH 8.2 or later to sign with an SSH key')
          : new InvalidInputError(`ssh-keygen could not be started: ${e.message}`),
      );
    });
    child.on('close', (code, signal) => {
      const status = signal ? `signal ${signal}` : `exit ${code}`;
      resolve({ status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(input);
  });
}
