/** `cutter run`, `cutter revert`, `cutter target prepare`: formatting only. */
import { executorFor } from '../../adapters/index.js';
import { inlineChanges } from '../../config/changes.js';
import { dryRun } from '../../runner/dry-run.js';
import { runLive } from '../../runner/live.js';
import { progressFor } from '../../runner/progress.js';
import { revertCut } from '../../runner/revert.js';
import type { Session } from '../../workspace/session.js';
import { table, type Output } from '../output.js';
import { EXIT } from '../../errors.js';

const show = (v: unknown) =>
  typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}…` : v) : JSON.stringify(v);

export async function run(s: Session, out: Output, cutId: string, mode: 'dry-run' | 'live'): Promise<number> {
  if (mode === 'dry-run') {
    const r = await dryRun(s, cutId);
    const d = r.simulation.diff;
    out.result(
      {
        cutId,
        runId: r.runId,
        mode,
        passed: r.passed,
        state: r.state,
        diff: d,
        expectedPostImageHash: r.simulation.expectedPostImageHash,
        nonMutation: r.simulation.nonMutation,
      },
      () => {
        const lines = [
          `  dry run ${r.runId} (simulator, READ ONLY): ${d.counts.inserts} insert(s), ${d.counts.updates} ` +
            `update(s), ${d.counts.deletes} delete(s), ${d.counts.unchanged} unchanged`,
        ];
        for (const row of d.inserts.slice(0, 10)) lines.push(`    ${out.color.green('+')} ${show(row)}`);
        for (const u of d.updates.slice(0, 10))
          lines.push(
            `    ${out.color.yellow('~')} ${show(u.key)} ` +
              `${u.changes.map((c) => `${c.column}: ${show(c.from)} → ${show(c.to)}`).join(', ')}`,
          );
        for (const k of d.deletes.slice(0, 10)) lines.push(`    ${out.color.red('-')} ${show(k)}`);
        lines.push(`  expected post-image ${r.simulation.expectedPostImageHash.slice(0, 16)}…`);
        lines.push(
          `  non-mutation: pre-image ${r.simulation.nonMutation.preImageHashBefore.slice(0, 16)}… before = after: ` +
            `${r.passed ? out.color.green('yes') : out.color.red('NO')}`,
        );
        lines.push(`  state ${r.state}`);
        return lines.join('\n');
      },
    );
    return r.passed ? EXIT.ok : EXIT.verificationFailed;
  }
  const r = await runLive(s, cutId, { progress: progressFor(process.stderr, !out.json) });
  out.result(r, () => {
    const rows = r.phases.map((p) => [p.phase, p.reconciled ? 'reconciled' : 'applied', summarise(p.detail)]);
    const lines = [`  live run ${r.runId}`, table(['phase', 'outcome', 'detail'], rows).replace(/^/gm, '  ')];
    if (r.halted)
      lines.push(
        `  ${out.color.yellow('halted')} before ${r.halted.phase}: ${r.halted.reason} — open the lock(s) and run ` +
          `again to resume`,
      );
    lines.push(`  state ${r.state}`);
    return lines.join('\n');
  });
  return r.halted ? EXIT.refused : EXIT.ok;
}

function summarise(d: Record<string, unknown>): string {
  const keys = ['inserted', 'updated', 'deleted', 'rowCount', 'rows', 'ledgerId', 'skipped'];
  return keys
    .filter((k) => d[k] !== undefined)
    .map((k) => `${k}=${String(d[k])}`)
    .join(' ');
}

export async function revert(
  s: Session,
  out: Output,
  cutId: string,
  mode: 'dry-run' | 'live',
  force: boolean,
): Promise<number> {
  const r = await revertCut(s, cutId, { mode, force });
  out.result(r, () =>
    mode === 'dry-run'
      ? `  revert (preview): would restore ${r.restore} row(s) and remove ${r.remove} row(s) the cut inserted; ` +
        `nothing written`
      : `  ${out.color.green('✓')} reverted ${cutId} (${r.runId}): ${r.restore} row(s) restored, ${r.remove} ` +
        `removed; restored hash ${r.restoredHash?.slice(0, 16)}… equals the backup's; state ${r.state}`,
  );
  return EXIT.ok;
}

export async function prepare(s: Session, out: Output, name: string): Promise<number> {
  const spec = await s.target(name);
  const adapter = executorFor('live', spec, inlineChanges([]));
  try {
    await adapter.prepare();
  } finally {
    await adapter.close();
  }
  out.result(
    { target: name, table: spec.table, prepared: true },
    () => `  ${out.color.green('✓')} ${name}: cutter_ledger and cutter_receipts ready beside ${spec.table}`,
  );
  return EXIT.ok;
}
