/**
 * A change-file line with a key twice in one object (`{"delete":{"id":"KB-5","id":"KB-6"}}`) is
 * refused: JSON.parse and PostgreSQL's jsonb keep the last, so the line a reviewer reads is not the
 * change the cut makes. `duplicateKey` is the scan; these hold it to JSON.parse's own reading.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { duplicateKey } from '../../src/config/plan.js';

describe('duplicateKey', () => {
  it('finds nothing in any JSON text JSON.stringify writes, compact or indented', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(duplicateKey(JSON.stringify(v))).toBeUndefined();
        expect(duplicateKey(JSON.stringify(v, null, 2))).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
  });

  it('finds a key repeated in any one object, however deep, as JSON.parse reads the key', () => {
    let nested = 0;
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 1 }),
        fc.array(fc.constantFrom('array', 'object'), { maxLength: 4 }),
        fc.jsonValue(),
        fc.boolean(),
        (obj, wrappers, extra, escape) => {
          const keys = Object.keys(obj);
          const key = keys[keys.length - 1]!;
          // Escape the repeated key's first character as \uXXXX: JSON.parse reads the same key.
          const spelled =
            escape && key.length > 0
              ? `"\\u${key.charCodeAt(0).toString(16).padStart(4, '0')}${JSON.stringify(key.slice(1)).slice(1)}`
              : JSON.stringify(key);
          expect(JSON.parse(spelled)).toBe(key);
          let text = `${JSON.stringify(obj).slice(0, -1)},${spelled}:${JSON.stringify(extra)}}`;
          for (const w of wrappers) text = w === 'array' ? `[1,${text},"x"]` : `{"wrap":${text},"z":{"a":1}}`;
          if (wrappers.length) nested++;
          expect(() => JSON.parse(text)).not.toThrow();
          expect(duplicateKey(text)).toBe(key);
        },
      ),
      { numRuns: 1000 },
    );
    expect(nested).toBeGreaterThan(500);
  });

  it('tells equal keys in different objects apart, and keys from string values', () => {
    expect(duplicateKey('{"a":{"a":1},"b":{"a":2},"c":["a","a"]}')).toBeUndefined();
    expect(duplicateKey('{"a":"\\"a\\":","b":1}')).toBeUndefined();
    expect(duplicateKey('{"delete":{"id":"KB-0005","id":"KB-0006"}}')).toBe('id');
    expect(duplicateKey('{"upsert":{"id":"1","title":"t","body":"b","title":"SNEAKY"}}')).toBe('title');
  });
});
