/** `cutter replay`, `cutter report`, `cutter projections rebuild`: formatting only. */
import { existsSync } from 'node:fs';
import { checkOutputPath, writeTextFile } from '../../config/text-file.js';
import { buildReport } from '../../audit/report-model.js';
import { renderHtml, renderJson, renderMarkdown } from '../../audit/render.js';
import { replayStore } from '../../audit/replay.js';
import { lastSeenCheckpoint, readCheckpointFile } from '../../audit/checkpoints.js';
import { readBundle, verifyBundle } from '../../audit/bundle.js';
import type { StoredEvent } from '../../store/index.js';
import { rootFor } from './anchors.js';
import { TRUST_RULES, type TrustViolation } from '../../domain/governance.js';
import { loadCut } from '../../cuts/handle.js';
import { InvalidInputError, EXIT } from '../../errors.js';
import { activityProjector } from '../../projections/activity.js';
import { catchUp, follow as follow_ } from '../../projections/follower.js';
import { rebuildProjections } from '../../projections/store.js';
import type { Session } from '../../workspace/session.js';
import type { Output } from '../output.js';
import { cutStreamId } from '../../../events/streams.js';

export async function replay(
  s: Session,
  out: Output,
  cutId: string | undefined,
  all: boolean,
  trustRoot?: string,
  anchors: { checkpoint?: string; targets?: boolean; since?: string } = {},
): Promise<number> {
  if (!cutId && !all) throw new InvalidInputError('replay: name a cut or pass --all');
  if (anchors.since !== undefined && (cutId !== undefined || !all))
    throw new InvalidInputError(
      '--since-checkpoint: replays every stream written after the checkpoint; use it with --all',
    );
  const since = anchors.since === undefined ? undefined : readCheckpointFile(anchors.since);
  if (trustRoot !== undefined && !/^[0-9a-f]{64}$/.test(trustRoot))
    throw new InvalidInputError('--trust-root: the 64-hex root printed by `cutter governance show`');
  const store = await s.store();
  const pin = trustRoot ?? (existsSync(s.configFile) ? s.config().trust.root : undefined);
  // A kept file when given; else the checkpoint this workspace last saw, when it has one (not after
  // --since-checkpoint, whose checkpoint is the anchor: re-walking every chain to hold the log
  // against another would cost what replaying after the anchor saves).
  const seen = anchors.checkpoint === undefined && !since ? lastSeenCheckpoint(s) : undefined;
  const checkpoint = anchors.checkpoint === undefined ? seen?.file : readCheckpointFile(anchors.checkpoint);
  const targets = anchors.targets
    ? await Promise.all(Object.keys(s.config().targets).map((name) => s.target(name)))
    : undefined;
  const r = await replayStore(store, all ? undefined : cutId, {
    trustRoot: pin,
    ...(checkpoint ? { checkpoint } : {}),
    ...(since ? { since } : {}),
    ...(targets ? { targets } : {}),
  });
  out.result(r, () => replayText(r, out, anchors.since, seen?.path));
  return r.ok ? EXIT.ok : EXIT.verificationFailed;
}

type ReplayResult = Awaited<ReturnType<typeof replayStore>>;

/**
 * The human report of a replay: the verdict, what was taken from a --since-checkpoint anchor, the
 * anchors, the violations.
 */
function replayText(r: ReplayResult, out: Output, sinceFile: string | undefined, seenPath: string | undefined): string {
  const head = r.ok
    ? `  ${out.color.green('✓ replay clean')}: ${r.streams} cut stream(s), ${r.events} events — hash chains ` +
      `intact, every transition legal, invariants hold, projections equal; every event signed by an enrolled ` +
      `member with its role under trust root ${r.trust.root?.slice(0, 16)}… (governance ` +
      `v${r.trust.governanceVersion})`
    : `  ${out.color.red(`✗ ${r.violations.length} violation(s)`)} in ${r.streams} stream(s), ${r.events} events`;
  return [
    head,
    ...sinceLines(r, sinceFile),
    `  anchors: ${anchorsText(r, seenPath)}`,
    ...r.violations.map((v) => `    ${v.streamId} #${v.version} ${v.type}: ${v.rule} — ${v.message}`),
  ].join('\n');
}

/** Which anchors the replay held the log against, and which it did not (with the option that adds it). */
function anchorsText(r: ReplayResult, seenPath: string | undefined): string {
  const ledgers = r.anchors.targets?.map((t) => `${t.target}: ${t.rows} row(s)`).join(', ');
  return [
    `${r.anchors.checkpointsInStore} checkpoint(s) in the store checked`,
    r.anchors.checkpointFile
      ? seenPath
        ? `the checkpoint this workspace last saw (${seenPath}) checked`
        : 'the kept checkpoint file checked'
      : 'no kept checkpoint checked (--checkpoint <file>)',
    r.anchors.targets
      ? `target ledgers checked (${ledgers || 'none configured'})`
      : 'target ledgers not checked (--targets)',
  ].join('; ');
}

/** After --since-checkpoint: what was verified, replayed, and taken on the checkpoint's word. */
function sinceLines(r: ReplayResult, sinceFile: string | undefined): string[] {
  if (!r.since) return [];
  const at = `  since checkpoint ${r.since.checkpointVersion} (${sinceFile})`;
  if (!r.since.anchored) return [`${at}: it does not verify, so nothing was taken from it — every stream replayed`];
  return [
    `${at}: signature and stream heads verified; ${r.since.replayedStreams} cut stream(s) written after it ` +
      `replayed in full; ${r.since.unchangedStreams} stream(s) (${r.since.unchangedEvents} events) unchanged ` +
      'since it were checked by their head hash only — their events were not re-read, re-hashed or re-checked ' +
      '(a full replay does that)',
  ];
}

export async function report(
  s: Session,
  out: Output,
  cutId: string,
  opts: { format: 'md' | 'html' | 'json'; out?: string; from?: string; trustRoot?: string },
): Promise<number> {
  if (opts.out !== undefined) checkOutputPath(opts.out, '--out');
  if (opts.from !== undefined) {
    // From an audit bundle: no database; verified from the trust root first.
    const bundle = readBundle(opts.from);
    if (bundle.cutId !== cutId)
      throw new InvalidInputError(`--from: ${opts.from} is the bundle of cut ${bundle.cutId}, not ${cutId}`);
    const root = rootFor(s, opts.trustRoot);
    const verdict = verifyBundle(bundle, root);
    const events = bundle.streams.cut as StoredEvent[];
    const trustViolations = verdict.violations.filter((v): v is TrustViolation =>
      (TRUST_RULES as readonly string[]).includes(v.rule),
    );
    const model = buildReport(
      events,
      !verdict.violations.some((v) => v.rule === 'hash-chain'),
      new Date().toISOString(),
      { root, violations: trustViolations },
    );
    return emitReport(out, cutId, opts, model, verdict.ok);
  }
  const store = await s.store();
  const { events } = await loadCut(store, cutId);
  const chain = await store.verifyChain(cutStreamId(cutId));
  const pin = existsSync(s.configFile) ? s.config().trust.root : undefined;
  const replayed = await replayStore(store, cutId, { trustRoot: pin });
  const trustRules = new Set<string>(TRUST_RULES);
  const trust = {
    root: replayed.trust.root,
    violations: replayed.violations.filter(
      (v): v is TrustViolation => v.streamId === cutStreamId(cutId) && trustRules.has(v.rule),
    ),
  };
  const model = buildReport(events, chain.ok, new Date().toISOString(), pin ? trust : undefined);
  return emitReport(out, cutId, opts, model, chain.ok);
}

async function emitReport(
  out: Output,
  cutId: string,
  opts: { format: 'md' | 'html' | 'json'; out?: string },
  model: ReturnType<typeof buildReport>,
  chainOk: boolean,
): Promise<number> {
  const text =
    opts.format === 'html'
      ? await renderHtml(model)
      : opts.format === 'json'
        ? renderJson(model)
        : renderMarkdown(model);
  if (opts.out) {
    writeTextFile(opts.out, text, '--out');
    out.result(
      { cutId, format: opts.format, out: opts.out, outcome: model.cut.outcome, violations: model.violations.length },
      () => `  ${out.color.green('✓')} report written to ${opts.out} (${model.cut.outcome})`,
    );
  } else process.stdout.write(text);
  return model.violations.length || !chainOk ? EXIT.verificationFailed : EXIT.ok;
}

export async function rebuild(s: Session, out: Output): Promise<number> {
  const store = await s.store();
  const t = performance.now();
  const r = await rebuildProjections(store.db);
  const refolded = await catchUp(store, activityProjector);
  const ms = performance.now() - t;
  out.result(
    { ...r, asyncEvents: refolded, ms: Math.round(ms) },
    () =>
      `  ${out.color.green('✓')} projections rebuilt from ${r.events} events in ${r.streams} stream(s), async ` +
      `projectors refolded ${refolded} events, in ${Math.round(ms)} ms`,
  );
  return EXIT.ok;
}

export async function follow(s: Session, out: Output, once: boolean): Promise<number> {
  const store = await s.store();
  if (once) {
    const n = await catchUp(store, activityProjector);
    out.result(
      { projector: activityProjector.name, applied: n },
      () => `  ${out.color.green('✓')} ${activityProjector.name}: applied ${n} event(s)`,
    );
    return EXIT.ok;
  }
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
  out.info(`following the log for ${activityProjector.name} (ctrl-c to stop)`);
  await follow_(store, activityProjector, controller.signal);
  return EXIT.ok;
}
