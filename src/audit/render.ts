/**
 * Renders the report model: Markdown, one self-contained HTML file (inline CSS and the state diagram
 * as inline SVG from @viz-js/viz; no network, printable), or JSON. Every model string is escaped.
 */
import type { ReportModel, EventRef } from './report-model.js';

const esc = (s: unknown) =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
const md = (s: unknown) =>
  String(s ?? '')
    .replace(/[|\\`*_<>[\]]/g, (c) => `\\${c}`)
    .replace(/\n/g, ' ');
const cite = (refs: EventRef[]) => refs.map((r) => `#${r.version} ${r.type}`).join(', ') || '—';

/** The report model as JSON (the machine-readable report). Pure. */
export function renderJson(m: ReportModel): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

/** The report as Markdown, every value escaped. Pure. */
export function renderMarkdown(m: ReportModel): string {
  return [
    ...summaryMd(m),
    ...tableMd('Gate roll-up', ['Gate', 'Outcome', 'At', 'Receipt', 'Detail', 'Events'], m.gates.map(gateCellsMd)),
    ...tableMd(
      'Approvals',
      ['Approver', 'Roles', 'At', 'Key', 'Governance', 'Signature'],
      m.approvals.map((a) => approvalCellsMd(m, a)),
    ),
    ...authorityMd(m),
    ...tableMd('Lock evidence', ['Event', 'At', 'config', 'env', 'kill-switch'], m.lockEvidence.map(lockCellsMd)),
    '## Dry runs and non-mutation evidence',
    '',
    ...m.dryRuns.map(dryRunMd),
    ...(m.dryRuns.length ? [] : ['- none']),
    '',
    ...tableMd(
      'Forbidden-action attestation',
      ['Forbidden', 'Status', 'Evidence', 'Note'],
      m.attestations.map((a) => [a.forbidden, `**${a.status}**`, cite(a.evidence), md(a.note)]),
    ),
    ...chainMd(m),
    ...tableMd(
      'Timeline',
      ['#', 'Recorded', 'Event', 'Actor'],
      m.timeline.map((t) => [String(t.version), t.at, t.type, md(t.actor)]),
    ),
    '## State diagram',
    '',
    `Path taken: ${m.diagram.path.join(' → ')}. The HTML report draws it; the Graphviz source:`,
    '',
    '```dot',
    m.diagram.dot,
    '```',
    '',
  ].join('\n');
}

type Model = ReportModel;

/** A Markdown section holding one table (cells already escaped), followed by a blank line. */
function tableMd(title: string, head: string[], cells: string[][]): string[] {
  const row = (r: string[]) => `| ${r.join(' | ')} |`;
  return [`## ${title}`, '', row(head), `|${head.map(() => '---').join('|')}|`, ...cells.map(row), ''];
}

function summaryMd(m: Model): string[] {
  const c = m.cut;
  return [
    `# Cut ${md(c.cutId)} — audit report`,
    '',
    `- **Final outcome:** ${md(c.outcome)}`,
    `- **State:** \`${c.state}\` · **target:** ${md(c.target)} (\`${md(c.table)}\`) · **rows:** ${c.rowCount}`,
    `- **Author:** ${md(c.author)} · **reason:** ${md(c.reason)}`,
    `- **Plan hash:** \`${c.planHash}\``,
    `- **Generated:** ${c.generatedAt} from ${m.timeline.length} events`,
    '',
  ];
}

function gateCellsMd(g: Model['gates'][number]): string[] {
  return [
    g.gate,
    `**${g.outcome}**${g.reconciled ? ' (reconciled)' : ''}`,
    g.at ?? '',
    g.receipt ? `\`${g.receipt.slice(0, 12)}…\`` : '',
    md(g.detail),
    cite(g.events),
  ];
}

/** Whether an approval's signature holds, and against what. */
function signatureVerdict(m: Model, a: Model['approvals'][number]): string | undefined {
  if (!a.signatureVerified) return undefined;
  return m.trust.checked ? 'verified against governance' : 'verified (self-consistent only)';
}

function approvalCellsMd(m: Model, a: Model['approvals'][number]): string[] {
  return [
    md(a.approver),
    md(a.roles.join(', ')),
    a.at,
    `\`${a.key ?? 'unsigned'}\``,
    a.governanceVersion ? `v${a.governanceVersion}` : '-',
    signatureVerdict(m, a) ?? '**INVALID**',
  ];
}

function authorityMd(m: Model): string[] {
  const root = m.trust.root
    ? `\`${m.trust.root}\``
    : m.trust.checked
      ? '**none found**'
      : 'not checked (no trust root pinned or given)';
  const versions = m.trust.governanceVersions.map((v) => `v${v}`).join(', ') || 'none';
  return ['## Authority', '', `- Trust root: ${root}`, `- Events signed under governance version(s): ${versions}`, ''];
}

function lockCellsMd(l: Model['lockEvidence'][number]): string[] {
  return [
    `#${l.event.version} ${l.kind}`,
    l.at,
    l.config ? 'open' : 'CLOSED',
    l.env ? 'open' : 'CLOSED',
    l.killSwitch ? 'released' : 'ENGAGED',
  ];
}

function dryRunMd(d: Model['dryRuns'][number]): string {
  const diff =
    `${d.diff.inserts} inserts, ${d.diff.updates} updates, ${d.diff.deletes} deletes, ` +
    `${d.diff.unchanged} unchanged`;
  const before = d.nonMutation.before.slice(0, 16);
  const pre = `pre-image \`${before}…\` before = after: ${d.nonMutation.equal ? 'yes' : 'NO'}`;
  return `- ${d.runId}: ${d.passed ? 'passed' : 'FAILED'} — ${diff}; ${pre}`;
}

function chainMd(m: Model): string[] {
  const head = `Stream \`${m.chain.streamId}\` head v${m.chain.headVersion} \`${m.chain.headHash}\``;
  const replay = m.violations.length === 0 ? 'clean — every transition legal' : `${m.violations.length} violation(s)`;
  return [
    '## Hash chain and replay',
    '',
    `- ${head}: ${m.chain.verified ? 'chain verified' : '**CHAIN BROKEN**'}`,
    `- Replay: ${replay}`,
    ...m.violations.map((v) => `  - #${v.version} ${v.type}: ${v.rule} — ${md(v.message)}`),
    '',
  ];
}

const CSS = `
body{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1d2329;
  margin:32px auto;max-width:1100px;padding:0 24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #d8dee4;padding-bottom:4px}
.badge{display:inline-block;padding:3px 10px;border-radius:12px;font-weight:600;font-size:12px;
  color:#fff;background:#57606a}
.badge.ok{background:#1f8a4c}.badge.bad{background:#c0392b}.badge.warn{background:#b7791f}
table{border-collapse:collapse;width:100%;font-size:12.5px;page-break-inside:auto}tr{page-break-inside:avoid}
th,td{border:1px solid #d8dee4;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f5f7}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.gate-PASS{color:#1f8a4c;font-weight:600}.gate-FAIL,.gate-HALTED,.VIOLATED{color:#c0392b;font-weight:600}
.gate-SKIPPED,.gate-NOT{color:#57606a}
.NOT-DONE{color:#1f8a4c;font-weight:600}#diagram svg{max-width:100%;height:auto}
dl{display:grid;grid-template-columns:140px 1fr;gap:2px 12px;margin:8px 0}dt{color:#57606a}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}}
`;

/**
 * The report as one self-contained HTML page with the lifecycle diagram (Graphviz via @viz-js/viz,
 * no network). Every value escaped.
 */
export async function renderHtml(m: ReportModel): Promise<string> {
  const { instance } = await import('@viz-js/viz');
  const svg = (await instance())
    .renderString(m.diagram.dot, { format: 'svg', engine: 'dot' })
    .replace(/<\?xml[^>]*>/, '')
    .replace(/<!DOCTYPE[^>]*>/, '');
  return [
    ...summaryHtml(m),
    ...tableHtml(
      'Gate roll-up',
      'gates',
      ['Gate', 'Outcome', 'At', 'Receipt', 'Detail', 'Events'],
      m.gates.map(gateCellsHtml),
    ),
    ...tableHtml(
      'Approvals',
      'approvals',
      ['Approver', 'Roles', 'At', 'Key', 'Governance', 'Signature'],
      m.approvals.map((a) => approvalCellsHtml(m, a)),
    ),
    `<h2>Authority</h2><p id="trust">Trust root: ${trustRootHtml(m)}. Events signed under governance version(s): ` +
      `${esc(m.trust.governanceVersions.map((v) => `v${v}`).join(', ') || 'none')}.</p>`,
    ...tableHtml(
      'Lock evidence',
      'locks',
      ['Event', 'At', 'config', 'env', 'kill-switch'],
      m.lockEvidence.map(lockCellsHtml),
    ),
    ...tableHtml(
      'Dry runs and non-mutation evidence',
      'dryruns',
      ['Run', 'Result', 'Diff', 'Pre-image before = after'],
      m.dryRuns.map(dryRunCellsHtml),
    ),
    ...tableHtml(
      'Forbidden-action attestation',
      'attestation',
      ['Forbidden', 'Status', 'Evidence', 'Note'],
      m.attestations.map(attestationCellsHtml),
    ),
    ...chainHtml(m),
    `<h2>State diagram — the path this cut took</h2><div id="diagram">${svg}</div>`,
    ...tableHtml(
      'Timeline',
      'timeline',
      ['#', 'Recorded', 'Event', 'Actor', 'Key'],
      m.timeline.map((t) => [
        t.version,
        esc(t.at),
        esc(t.type),
        esc(t.actor),
        `<code>${esc(t.key ?? 'unsigned')}</code>`,
      ]),
    ),
    '</body></html>',
    '',
  ].join('\n');
}

/** A section heading and its table: the header row on the heading's line, the rows on the next. */
function tableHtml(title: string, id: string, head: string[], cells: unknown[][]): string[] {
  const rows = cells.map((r) => `<tr>${r.map((x) => `<td>${x}</td>`).join('')}</tr>`).join('');
  return [
    `<h2>${title}</h2><table id="${id}"><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr>`,
    `${rows}</table>`,
  ];
}

/** The page head and the cut's summary: outcome badge, target, author, reason, plan hash. */
function summaryHtml(m: Model): string[] {
  const c = m.cut;
  const tone = c.state === 'completed' || c.state === 'reverted' ? 'ok' : /fail/i.test(c.state) ? 'bad' : 'warn';
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
      `<title>cutter report ${esc(c.cutId)}</title><style>${CSS}</style></head><body>`,
    `<h1>Cut ${esc(c.cutId)} <span class="badge ${tone}" id="outcome">${esc(c.state)}</span></h1>`,
    `<p><strong>${esc(c.outcome)}</strong></p>`,
    `<dl><dt>target</dt><dd>${esc(c.target)} (<code>${esc(c.table)}</code>), ${c.rowCount} change(s)</dd>` +
      `<dt>author</dt><dd>${esc(c.author)}</dd>`,
    `<dt>reason</dt><dd>${esc(c.reason)}</dd><dt>plan hash</dt><dd class="mono">${esc(c.planHash)}</dd>` +
      `<dt>generated</dt><dd>${esc(c.generatedAt)} from ${m.timeline.length} events</dd></dl>`,
  ];
}

function gateCellsHtml(g: Model['gates'][number]): unknown[] {
  return [
    esc(g.gate),
    `<span class="gate-${esc(g.outcome.split(' ')[0])}">${esc(g.outcome)}</span>${g.reconciled ? ' (reconciled)' : ''}`,
    esc(g.at ?? ''),
    `<code>${esc((g.receipt ?? '').slice(0, 16))}</code>`,
    esc(g.detail ?? ''),
    esc(cite(g.events)),
  ];
}

function approvalCellsHtml(m: Model, a: Model['approvals'][number]): unknown[] {
  return [
    esc(a.approver),
    esc(a.roles.join(', ')),
    esc(a.at),
    `<code>${esc(a.key ?? 'unsigned')}</code>`,
    a.governanceVersion ? `v${a.governanceVersion}` : '-',
    signatureVerdict(m, a) ?? '<span class="VIOLATED">INVALID</span>',
  ];
}

function attestationCellsHtml(a: Model['attestations'][number]): unknown[] {
  const status = `<span class="${a.status.replace(' ', '-')}">${esc(a.status)}</span>`;
  return [esc(a.forbidden), status, esc(cite(a.evidence)), esc(a.note)];
}

function trustRootHtml(m: Model): string {
  if (m.trust.root) return `<code>${esc(m.trust.root)}</code>`;
  return m.trust.checked ? '<span class="VIOLATED">none found</span>' : 'not checked (no trust root pinned or given)';
}

function lockCellsHtml(l: Model['lockEvidence'][number]): unknown[] {
  return [
    `#${l.event.version} ${esc(l.kind)}`,
    esc(l.at),
    l.config ? 'open' : 'CLOSED',
    l.env ? 'open' : 'CLOSED',
    l.killSwitch ? 'released' : 'ENGAGED',
  ];
}

function dryRunCellsHtml(d: Model['dryRuns'][number]): unknown[] {
  return [
    esc(d.runId),
    d.passed ? 'passed' : 'FAILED',
    `${d.diff.inserts} inserts, ${d.diff.updates} updates, ${d.diff.deletes} deletes, ${d.diff.unchanged} unchanged`,
    `<code>${esc(d.nonMutation.before.slice(0, 16))}…</code> ${d.nonMutation.equal ? '= yes' : '≠ NO'}`,
  ];
}

function chainHtml(m: Model): string[] {
  const head =
    `Stream <code>${esc(m.chain.streamId)}</code> head v${m.chain.headVersion} ` +
    `<code>${esc(m.chain.headHash)}</code>`;
  const verdict = m.chain.verified ? 'chain verified' : '<span class="VIOLATED">CHAIN BROKEN</span>';
  const replay =
    m.violations.length === 0
      ? 'clean — every transition legal.'
      : `<span class="VIOLATED">${m.violations.length} violation(s)</span>`;
  const list = m.violations.map((v) => `<li>#${v.version} ${esc(v.type)}: ${esc(v.rule)} — ${esc(v.message)}</li>`);
  return [
    `<h2>Hash chain and replay</h2><p id="chain">${head}: ${verdict}.`,
    `Replay: ${replay}</p>`,
    m.violations.length ? `<ul>${list.join('')}</ul>` : '',
  ];
}
