/**
 * A set of keys in 8 bytes a key: 64 bits of each key's SHA-256, in typed arrays with open
 * addressing, sized once for the number of keys expected (a change file's line count) so it never
 * holds an old and a new table at once. A million keys cost ~11 MB (before: ~25 MB, and ~38 MB
 * while the table doubled — the plan step's peak RSS grew with the change file by that much, issue
 * #18). A hit means "probably seen" (a false hit needs a 64-bit collision, ~1 in 10^7 for a million
 * keys): callers confirm a hit by finding the key itself earlier on, before reporting it.
 */
import { createHash } from 'node:crypto';

/** The table stays at most this full (linear probing: ~2.5 probes per new key at the end). */
const MAX_LOAD = 0.8;

export class KeySet {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private size = 0;

  /** `expected`: how many keys will be added; more still work (the table then doubles). */
  constructor(expected = 1024) {
    const slots = Math.max(16, Math.ceil(expected / MAX_LOAD) + 1);
    this.hi = new Uint32Array(slots);
    this.lo = new Uint32Array(slots);
  }

  /** Adds `key`; true when it was (probably) added before. */
  add(key: string): boolean {
    const d = createHash('sha256').update(key).digest();
    // 0 marks an empty slot in `lo`, so a digest whose low word is 0 is stored as 1 (the high
    // word still tells keys apart; the collision odds barely move).
    const hi = d.readUInt32LE(0);
    const lo = d.readUInt32LE(4) || 1;
    const slot = this.probe(hi, lo);
    if (this.lo[slot] !== 0) return true;
    this.hi[slot] = hi;
    this.lo[slot] = lo;
    if (++this.size > this.lo.length * MAX_LOAD) this.grow();
    return false;
  }

  private probe(hi: number, lo: number): number {
    const slots = this.lo.length;
    let i = lo % slots;
    while (this.lo[i] !== 0 && !(this.hi[i] === hi && this.lo[i] === lo)) i = i + 1 === slots ? 0 : i + 1;
    return i;
  }

  private grow(): void {
    const { hi, lo } = this;
    this.hi = new Uint32Array(lo.length * 2);
    this.lo = new Uint32Array(lo.length * 2);
    for (let i = 0; i < lo.length; i++) {
      if (lo[i] === 0) continue;
      const j = this.probe(hi[i]!, lo[i]!);
      this.hi[j] = hi[i]!;
      this.lo[j] = lo[i]!;
    }
  }
}
