/** `cutter plan` and `cutter approve`: formatting only. */
import path from 'node:path';
import { approveCut } from '../../cuts/approve.js';
import { planCut } from '../../cuts/plan.js';
import type { Session } from '../../workspace/session.js';
import type { Output } from '../output.js';
import { EXIT } from '../../errors.js';
import type { TargetDefinition } from '../../config/target.js';

export async function plan(s: Session, out: Output, file: string): Promise<number> {
  const r = await planCut(s, path.resolve(file));
  out.result(r, () =>
    [
      `  cut       ${out.color.bold(r.cutId)}`,
      `  plan hash ${r.planHash}`,
      `  target    ${r.target} (${r.rowCount} change${r.rowCount === 1 ? '' : 's'}; precheck: ` +
        `${r.precheck.existing} existing, ${r.precheck.absent} absent)`,
      `  state     ${r.state}`,
    ].join('\n'),
  );
  return EXIT.ok;
}

export async function approve(s: Session, out: Output, cutId: string, planHash?: string): Promise<number> {
  const r = await approveCut(s, cutId, planHash === undefined ? {} : { planHash });
  out.result(r, () =>
    [
      `  plan      ${r.plan.target}: ${r.plan.reason} (by ${r.plan.author}; ${r.plan.rowCount} ` +
        `change${r.plan.rowCount === 1 ? '' : 's'})`,
      `  writes    ${describeTarget(r.plan)}`,
      `  plan hash ${r.planHash}`,
      `  ${out.color.green('✓')} ${r.approver} approved ${r.cutId} with key ${r.key} (governance ` +
        `v${r.governanceVersion}); approvals: ${r.approvals.join(', ')}; state ${r.state}`,
    ].join('\n'),
  );
  return EXIT.ok;
}

/** The table and definition an approval approves, as the approver reads it. */
function describeTarget(p: { table: string; definition?: TargetDefinition }): string {
  const d = p.definition;
  if (!d) return p.table;
  const enact = d.lifecycle
    ? `enact sets ${d.lifecycle.column} = ${JSON.stringify(d.lifecycle.value)}`
    : 'no enact column';
  return `${p.table} (key ${d.key.join(', ')}; columns ${d.columns.join(', ')}; ${enact})`;
}
