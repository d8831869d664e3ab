/** `cutter checkpoint`: formatting only. */
import { recordCheckpoint, verifyCheckpoint } from '../../audit/checkpoints.js';
import { InvalidInputError } from '../../errors.js';
import type { Session } from '../../workspace/session.js';
import type { Output } from '../output.js';

export async function checkpoint(s: Session, out: Output, opts: { out?: string; verify?: string }): Promise<number> {
  if (opts.verify !== undefined) {
    if (opts.out !== undefined) throw new InvalidInputError('checkpoint: --verify and --out do not go together');
    const r = await verifyCheckpoint(s, opts.verify);
    out.result(r, () => `  ${out.color.green('✓')} the store extends ${r.file}: ${r.streams} stream head(s) of checkpoint ${r.version} hold, its signature verifies`);
    return 0;
  }
  const r = await recordCheckpoint(s, opts.out === undefined ? {} : { out: opts.out });
  out.result(
    { version: r.version, root: r.root, streams: r.streams, governanceVersion: r.governanceVersion, ...(r.out ? { out: r.out } : {}), checkpoint: r.file },
    () =>
      [
        `  ${out.color.green('✓')} checkpoint ${r.version}: ${r.streams} stream(s), root ${r.root}, governance v${r.governanceVersion}`,
        r.out ? `  written to ${r.out}: keep it outside the store (git, object storage with a retention lock)` : '  (--out <file> keeps it as a file outside the store)',
      ].join('\n'),
  );
  return 0;
}
