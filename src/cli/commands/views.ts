/** `cutter status` and `cutter history`: read models and the event timeline, formatted. */
import { loadCut } from '../../cuts/handle.js';
import { watch } from '../../audit/watch.js';
import { InvalidInputError, EXIT } from '../../errors.js';
import { killSwitchStatus } from '../../killswitch/index.js';
import { projectionRows } from '../../projections/store.js';
import type { Session } from '../../workspace/session.js';
import { table, type Output } from '../output.js';
import { cutStreamId } from '../../../events/streams.js';
import { fieldOf } from '../../../events/index.js';

export async function status(s: Session, out: Output, cutId?: string): Promise<number> {
  const store = await s.store();
  if (!cutId) {
    const cuts = await projectionRows(store.db, 'cuts');
    const targets = await projectionRows(store.db, 'target_activity');
    const ks = await killSwitchStatus(s);
    out.result({ killSwitch: ks, cuts, targets }, () =>
      [
        `  kill-switch: ${ks.engaged ? out.color.red(`ENGAGED (${ks.reason ?? ''})`) : out.color.green('released')}`,
        cuts.length === 0
          ? '  no cuts yet'
          : table(
              ['cut', 'state', 'target', 'author', 'approvals', 'last run'],
              cuts.map((c) => [
                c.cutId,
                c.state,
                c.target,
                c.author,
                (c.approvals as string[]).join(','),
                c.lastRun ? `${c.lastRun.mode} ${c.lastRun.outcome}` : '-',
              ]),
            ).replace(/^/gm, '  '),
      ].join('\n'),
    );
    return EXIT.ok;
  }
  const { skipped } = await loadCut(store, cutId);
  const [cut] = await projectionRows(store.db, 'cuts', cutStreamId(cutId));
  const runs = await projectionRows(store.db, 'runs', cutStreamId(cutId));
  runs.sort((a, b) => String(a.startedAt).localeCompare(String(b.startedAt)));
  const violations = skipped.map((v) => ({ ...v, rule: 'illegal-event' }));
  out.result({ ...cut, runs, violations }, () => {
    const lines = [
      `  cut        ${out.color.bold(String(cut?.cutId))}  state ${out.color.bold(String(cut?.state))}`,
      `  target     ${cut?.target} (${cut?.table})   author ${cut?.author}`,
      `  plan hash  ${cut?.planHash}`,
      `  approvals  ${(cut?.approvals as string[]).join(', ') || '-'}`,
    ];
    for (const r of runs) {
      lines.push(`  run ${r.runId} (${r.mode}) ${r.outcome}  ${r.startedAt}${r.endedAt ? ` → ${r.endedAt}` : ''}`);
      for (const p of r.phases)
        lines.push(
          `      ${String(p.phase).padEnd(7)} ${p.at}${p.reconciled ? ' reconciled' : ''}` +
            (p.receipt ? ` receipt ${String(p.receipt).slice(0, 12)}…` : ''),
        );
    }
    for (const v of violations)
      lines.push(`  ${out.color.red('violation')}  #${v.version} ${v.type}: skipped — ${v.reason}`);
    return lines.join('\n');
  });
  return EXIT.ok;
}

export async function watchCut(
  s: Session,
  out: Output,
  cutId: string | undefined,
  timeoutSeconds: number,
): Promise<number> {
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0)
    throw new InvalidInputError('--timeout: a positive number of seconds');
  const store = await s.store();
  if (!out.json) out.info(`watching ${cutId ? `cut ${cutId}` : 'every stream'} (ctrl-c to stop)`);
  // ctrl-c (or SIGTERM) stops the watch cleanly: unsubscribed, exit 0.
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const r = await watch(store, {
    ...(cutId ? { cutId } : {}),
    timeoutMs: timeoutSeconds * 1000,
    signal: controller.signal,
    onEvent: (e) => process.stdout.write(out.json ? `${JSON.stringify(watchedJson(e))}\n` : `${watchedLine(e)}\n`),
  }).finally(() => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  });
  if (!out.json)
    out.info(r.settled ? 'settled' : controller.signal.aborted ? 'stopped' : `stopped after ${timeoutSeconds}s`);
  return EXIT.ok;
}

export async function history(s: Session, out: Output, cutId: string): Promise<number> {
  const store = await s.store();
  const { events } = await loadCut(store, cutId);
  const timeline = events.map((e) => ({
    version: e.version,
    recordedAt: e.recordedAt,
    type: e.type,
    actor: e.metadata.actor ?? null,
    runId: fieldOf(e.data, 'runId') ?? null,
    hash: e.hash,
  }));
  out.result({ cutId, events: timeline }, () =>
    table(
      ['#', 'recorded', 'event', 'actor', 'run', 'hash'],
      timeline.map((t) => [
        String(t.version),
        t.recordedAt,
        t.type,
        String(t.actor ?? '-'),
        String(t.runId ?? '-'),
        t.hash.slice(0, 12),
      ]),
    ).replace(/^/gm, '  '),
  );
  return EXIT.ok;
}

type Watched = Parameters<Parameters<typeof watch>[1]['onEvent']>[0];

/** A watched event as one JSON line. */
function watchedJson(e: Watched) {
  const runId = fieldOf(e.data, 'runId') ?? null;
  return {
    streamId: e.streamId,
    version: e.version,
    type: e.type,
    recordedAt: e.recordedAt,
    runId,
    actor: e.metadata.actor ?? null,
  };
}

/** A watched event as one human line: when, where, what (and its phase), by whom. */
function watchedLine(e: Watched): string {
  const phase = fieldOf(e.data, 'phase');
  return (
    `  ${e.recordedAt}  ${e.streamId} #${e.version}  ${e.type}` +
    (phase ? ` ${String(phase)}` : '') +
    (e.metadata.actor ? `  (${e.metadata.actor})` : '')
  );
}
