/**
 * A set of keys in 12 bytes a key: 64 bits of each key's SHA-256 and the number of the change that
 * first used it, in typed arrays with open addressing. A million keys cost ~24 MB instead of the
 * ~150 MB of a Map of strings. A hit means "probably the same key" (a false hit needs a 64-bit
 * collision, ~1 in 10^7 for a million keys); callers confirm a hit before reporting it.
 */
import { createHash } from 'node:crypto';

export class KeySet {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private at: Uint32Array;
  private size = 0;

  constructor(capacity = 1024) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.hi = new Uint32Array(n);
    this.lo = new Uint32Array(n);
    this.at = new Uint32Array(n);
  }

  /** Adds `key`, first used by change `n` (n ≥ 0). Returns the earlier change's number on a hit. */
  add(key: string, n: number): number | undefined {
    const d = createHash('sha256').update(key).digest();
    const hi = d.readUInt32LE(0);
    const lo = d.readUInt32LE(4);
    const hit = this.probe(hi, lo);
    if (this.at[hit] !== 0) return this.at[hit]! - 1;
    this.hi[hit] = hi;
    this.lo[hit] = lo;
    this.at[hit] = n + 1;
    if (++this.size * 2 > this.at.length) this.grow();
    return undefined;
  }

  private probe(hi: number, lo: number): number {
    const mask = this.at.length - 1;
    let i = lo & mask;
    while (this.at[i] !== 0 && !(this.hi[i] === hi && this.lo[i] === lo)) i = (i + 1) & mask;
    return i;
  }

  private grow(): void {
    const { hi, lo, at } = this;
    this.hi = new Uint32Array(at.length * 2);
    this.lo = new Uint32Array(at.length * 2);
    this.at = new Uint32Array(at.length * 2);
    for (let i = 0; i < at.length; i++) {
      if (at[i] === 0) continue;
      const j = this.probe(hi[i]!, lo[i]!);
      this.hi[j] = hi[i]!;
      this.lo[j] = lo[i]!;
      this.at[j] = at[i]!;
    }
  }
}
