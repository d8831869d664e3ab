import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/migrations.js';

// An applied migration is history: a store migrated yesterday must mean the same schema as one
// migrated today. Each migration's text is frozen by its SHA-256; a change is a new migration.
const FROZEN: Record<number, string> = {
  1: 'b320da8b621bcdbb7fd285be39a85022319c4f4eb2fc13b2f31a403c8a6a3c3e',
  2: '32fd31135bbfccff04e47dd83c91edce213fddad3b3408a9d67adf45d1c94c5b',
  3: 'ad7327a358ee27836497bea95a2aa503a048283cb0e499205f9c2236b905c15a',
  4: '26ac39af689eb6488d32793338f103b24dfcd2629f6787f6707da165f4f85814',
  5: '7d13637829effde4a2e1871536da67d4a5efbf1d61fb0484409b12eff070f9f2',
  6: 'e6a726dc0d34086d5598f1c3f01919ca0890d5f2803d6726107510ba9ad9d434',
  7: 'df922d1d9dad2f89e11fc43598008f984ceea02268a66f0002e340590b6207ce',
  8: '4b0177843c3586c6c0c046aa17db691d099cb9a7bf7882d01c543f4476afe49f',
  9: '5e04f10ae8a239498884a157006a47d92cdd0d0bd94d938264cdc4bd49b4f373',
  10: 'adff19b67e5778280185ab2082f78e3ad84ba2827e9107a1c02118ac96176e3a',
};

describe('migrations', () => {
  it('are numbered 1..n without gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  it.each(MIGRATIONS.map((m) => [m.version, m] as const))(
    'migration %i keeps the text it was applied with',
    (version, m) => {
      const frozen = FROZEN[version];
      expect(
        frozen,
        `migration ${version} (${m.name}) has no frozen checksum: add it once, never edit it`,
      ).toBeDefined();
      expect(createHash('sha256').update(m.up).digest('hex')).toBe(frozen);
    },
  );
});
