/** `cutter checkpoint`, `cutter export`, `cutter verify`: formatting only. */
import { existsSync } from 'node:fs';
import { readCheckpointFile, recordCheckpoint, verifyCheckpoint } from '../../audit/checkpoints.js';
import { exportBundle, verifyBundleFile } from '../../audit/bundle.js';
import { InvalidInputError, EXIT } from '../../errors.js';
import type { Session } from '../../workspace/session.js';
import type { Output } from '../output.js';

export async function checkpoint(s: Session, out: Output, opts: { out?: string; verify?: string }): Promise<number> {
  if (opts.verify !== undefined) {
    if (opts.out !== undefined) throw new InvalidInputError('checkpoint: --verify and --out do not go together');
    const r = await verifyCheckpoint(s, opts.verify);
    out.result(
      r,
      () =>
        `  ${out.color.green('✓')} the store extends ${r.file}: ${r.streams} stream head(s) of checkpoint ` +
        `${r.version} hold, its signature verifies`,
    );
    return EXIT.ok;
  }
  const r = await recordCheckpoint(s, opts.out === undefined ? {} : { out: opts.out });
  out.result(
    {
      version: r.version,
      root: r.root,
      streams: r.streams,
      governanceVersion: r.governanceVersion,
      ...(r.out ? { out: r.out } : {}),
      checkpoint: r.file,
    },
    () =>
      [
        `  ${out.color.green('✓')} checkpoint ${r.version}: ${r.streams} stream(s), root ${r.root}, governance ` +
          `v${r.governanceVersion}`,
        r.out
          ? `  written to ${r.out}: keep it outside the store (git, object storage with a retention lock)`
          : '  (--out <file> keeps it as a file outside the store)',
      ].join('\n'),
  );
  return EXIT.ok;
}

export async function exportCut(s: Session, out: Output, cutId: string, file: string): Promise<number> {
  const r = await exportBundle(s, cutId, file);
  out.result(
    r,
    () =>
      `  ${out.color.green('✓')} bundle of cut ${r.cutId} (${r.events} events, covered by checkpoint ` +
      `${r.checkpoint}) written to ${r.out}: verify it anywhere with \`cutter verify ${r.out} --trust-root <root>\``,
  );
  return EXIT.ok;
}

/** The trust root to verify from: the flag, else the config's pin (never the bundle's own claim). */
export function rootFor(s: Session, flag: string | undefined): string {
  if (flag !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(flag))
      throw new InvalidInputError('--trust-root: the 64-hex root printed by `cutter governance show`');
    return flag;
  }
  const pin = existsSync(s.configFile) ? s.config().trust.root : undefined;
  if (!pin)
    throw new InvalidInputError(
      '--trust-root: required (no config with trust.root here): verify from the root your organisation gave you',
    );
  return pin;
}

export async function verify(
  s: Session,
  out: Output,
  file: string,
  trustRoot: string | undefined,
  kept?: string,
): Promise<number> {
  const r = verifyBundleFile(file, rootFor(s, trustRoot), kept === undefined ? {} : { kept: readCheckpointFile(kept) });
  out.result(r, () =>
    r.ok
      ? `  ${out.color.green('✓ bundle verified')}: cut ${r.cutId}, ${r.events} events, covered by checkpoint ` +
        `${r.coveredBy?.version}; governance v${r.governanceVersion} from the trust root; every event signed, ` +
        `every transition legal, chains intact`
      : [
          `  ${out.color.red(`✗ ${r.violations.length} violation(s)`)} in the bundle of cut ${r.cutId}`,
          ...r.violations.map((v) => `    ${v.streamId} #${v.version} ${v.type}: ${v.rule} — ${v.message}`),
        ].join('\n'),
  );
  return r.ok ? EXIT.ok : EXIT.verificationFailed;
}
