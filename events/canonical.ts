/**
 * Canonical JSON (RFC 8785) and SHA-256 over it: the one way cutter hashes structured data (plan
 * hash, row images, receipts, approval payloads, signed messages, the event hash chain). Lives in
 * events/ because the pure core (machines/, events/) needs it and imports nothing from src/.
 *
 * `canonicalize` (the RFC's reference implementation for JavaScript) is the definition. Plain JSON
 * values — what events, plans and receipts hold — take a direct path that writes the same bytes
 * without its generic walk (issue #18: the library was the largest item on a verifying replay's
 * main thread, ~17% of it); anything else goes to the library. test/unit/canonical.unit.test.ts
 * holds the direct path to the library's bytes and errors over generated values of every kind.
 */
import crypto from 'node:crypto';
import canonicalize from 'canonicalize';

/** RFC 8785 canonical JSON text of `value` as `canonicalize` writes it. Throws on values JSON cannot represent. */
export function libraryCanonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('canonicalJson: value has no JSON representation');
  return text;
}

/** RFC 8785 canonical JSON text of `value`: `libraryCanonicalJson`'s bytes and errors, faster for plain JSON values. */
export function canonicalJson(value: unknown): string {
  try {
    return plainCanonical(value, 0);
  } catch (err) {
    if (err !== NOT_PLAIN) throw err;
    return libraryCanonicalJson(value);
  }
}

/** Thrown inside `plainCanonical` for anything but plain JSON values: the caller asks the library. */
const NOT_PLAIN = Symbol('not plain JSON');
/** Any UTF-16 surrogate: such strings (pairs or lone halves) take the library's path. */
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * RFC 8785 canonical JSON of plain JSON values only (null, booleans, finite numbers, strings without
 * surrogates, arrays, objects whose prototype is Object.prototype or null, no undefined anywhere):
 * keys sorted by UTF-16 code units, primitives as JSON.stringify writes them — the bytes
 * `canonicalize` gives. Throws NOT_PLAIN for anything else (toJSON, boxed values, undefined,
 * functions, symbols, bigints, nesting deeper than 64 levels, so cycles too): `canonicalJson` then
 * asks the library, which serialises or throws as it always has.
 */
function plainCanonical(v: unknown, depth: number): string {
  switch (typeof v) {
    case 'string':
      if (SURROGATE.test(v)) throw NOT_PLAIN;
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw NOT_PLAIN;
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (depth > 64) throw NOT_PLAIN;
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) out += (i ? ',' : '') + plainCanonical(v[i], depth + 1);
        return out + ']';
      }
      const proto = Object.getPrototypeOf(v);
      if ((proto !== Object.prototype && proto !== null) || 'toJSON' in v) throw NOT_PLAIN;
      const o = v as Record<string, unknown>;
      let out = '{';
      let first = true;
      for (const k of Object.keys(o).sort()) {
        if (SURROGATE.test(k)) throw NOT_PLAIN;
        out += (first ? '' : ',') + JSON.stringify(k) + ':' + plainCanonical(o[k], depth + 1);
        first = false;
      }
      return out + '}';
    }
    default:
      throw NOT_PLAIN;
  }
}

/** Lower-case hex SHA-256 of a string or bytes (`crypto.hash` where Node has it: one call, no Hash object). */
export const sha256: (input: string | Uint8Array) => string =
  typeof crypto.hash === 'function'
    ? (input) => crypto.hash('sha256', input, 'hex')
    : (input) => crypto.createHash('sha256').update(input).digest('hex');

/** SHA-256 of the canonical JSON of `value`. */
export function hashOf(value: unknown): string {
  return sha256(canonicalJson(value));
}
