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
  const c = m.cut;
  const L: string[] = [
    `# Cut ${md(c.cutId)} — audit report`,
    '',
    `- **Final outcome:** ${md(c.outcome)}`,
    `- **State:** \`${c.state}\` · **target:** ${md(c.target)} (\`${md(c.table)}\`) · **rows:** ${c.rowCount}`,
    `- **Author:** ${md(c.author)} · **reason:** ${md(c.reason)}`,
    `- **Plan hash:** \`${c.planHash}\``,
    `- **Generated:** ${c.generatedAt} from ${m.timeline.length} events`,
    '',
    '## Gate roll-up',
    '',
    '| Gate | Outcome | At | Receipt | Detail | Events |',
    '|---|---|---|---|---|---|',
    ...m.gates.map(
      (g) =>
        `| ${g.gate} | **${g.outcome}**${g.reconciled ? ' (reconciled)' : ''} | ${g.at ?? ''} | ${g.receipt ? `\`${g.receipt.slice(0, 12)}…\`` : ''} | ${md(g.detail)} | ${cite(g.events)} |`,
    ),
    '',
    '## Approvals',
    '',
    '| Approver | Roles | At | Key | Governance | Signature |',
    '|---|---|---|---|---|---|',
    ...m.approvals.map(
      (a) =>
        `| ${md(a.approver)} | ${md(a.roles.join(', '))} | ${a.at} | \`${a.key ?? 'unsigned'}\` | ${a.governanceVersion ? `v${a.governanceVersion}` : '-'} | ${a.signatureVerified ? (m.trust.checked ? 'verified against governance' : 'verified (self-consistent only)') : '**INVALID**'} |`,
    ),
    '',
    '## Authority',
    '',
    `- Trust root: ${m.trust.root ? `\`${m.trust.root}\`` : m.trust.checked ? '**none found**' : 'not checked (no trust root pinned or given)'}`,
    `- Events signed under governance version(s): ${m.trust.governanceVersions.map((v) => `v${v}`).join(', ') || 'none'}`,
    '',
    '## Lock evidence',
    '',
    '| Event | At | config | env | kill-switch |',
    '|---|---|---|---|---|',
    ...m.lockEvidence.map(
      (l) =>
        `| #${l.event.version} ${l.kind} | ${l.at} | ${l.config ? 'open' : 'CLOSED'} | ${l.env ? 'open' : 'CLOSED'} | ${l.killSwitch ? 'released' : 'ENGAGED'} |`,
    ),
    '',
    '## Dry runs and non-mutation evidence',
    '',
    ...m.dryRuns.map(
      (d) =>
        `- ${d.runId}: ${d.passed ? 'passed' : 'FAILED'} — ${d.diff.inserts} inserts, ${d.diff.updates} updates, ${d.diff.deletes} deletes, ${d.diff.unchanged} unchanged; pre-image \`${d.nonMutation.before.slice(0, 16)}…\` before = after: ${d.nonMutation.equal ? 'yes' : 'NO'}`,
    ),
    ...(m.dryRuns.length ? [] : ['- none']),
    '',
    '## Forbidden-action attestation',
    '',
    '| Forbidden | Status | Evidence | Note |',
    '|---|---|---|---|',
    ...m.attestations.map((a) => `| ${a.forbidden} | **${a.status}** | ${cite(a.evidence)} | ${md(a.note)} |`),
    '',
    '## Hash chain and replay',
    '',
    `- Stream \`${m.chain.streamId}\` head v${m.chain.headVersion} \`${m.chain.headHash}\`: ${m.chain.verified ? 'chain verified' : '**CHAIN BROKEN**'}`,
    `- Replay: ${m.violations.length === 0 ? 'clean — every transition legal' : `${m.violations.length} violation(s)`}`,
    ...m.violations.map((v) => `  - #${v.version} ${v.type}: ${v.rule} — ${md(v.message)}`),
    '',
    '## Timeline',
    '',
    '| # | Recorded | Event | Actor |',
    '|---|---|---|---|',
    ...m.timeline.map((t) => `| ${t.version} | ${t.at} | ${t.type} | ${md(t.actor)} |`),
    '',
    '## State diagram',
    '',
    `Path taken: ${m.diagram.path.join(' → ')}. The HTML report draws it; the Graphviz source:`,
    '',
    '```dot',
    m.diagram.dot,
    '```',
    '',
  ];
  return L.join('\n');
}

const CSS = `
body{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1d2329;margin:32px auto;max-width:1100px;padding:0 24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #d8dee4;padding-bottom:4px}
.badge{display:inline-block;padding:3px 10px;border-radius:12px;font-weight:600;font-size:12px;color:#fff;background:#57606a}
.badge.ok{background:#1f8a4c}.badge.bad{background:#c0392b}.badge.warn{background:#b7791f}
table{border-collapse:collapse;width:100%;font-size:12.5px;page-break-inside:auto}tr{page-break-inside:avoid}
th,td{border:1px solid #d8dee4;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f5f7}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.gate-PASS{color:#1f8a4c;font-weight:600}.gate-FAIL,.gate-HALTED,.VIOLATED{color:#c0392b;font-weight:600}.gate-SKIPPED,.gate-NOT{color:#57606a}
.NOT-DONE{color:#1f8a4c;font-weight:600}#diagram svg{max-width:100%;height:auto}
dl{display:grid;grid-template-columns:140px 1fr;gap:2px 12px;margin:8px 0}dt{color:#57606a}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}}
`;

/** The report as one self-contained HTML page with the lifecycle diagram (Graphviz via @viz-js/viz, no network). Every value escaped. */
export async function renderHtml(m: ReportModel): Promise<string> {
  const { instance } = await import('@viz-js/viz');
  const svg = (await instance())
    .renderString(m.diagram.dot, { format: 'svg', engine: 'dot' })
    .replace(/<\?xml[^>]*>/, '')
    .replace(/<!DOCTYPE[^>]*>/, '');
  const c = m.cut;
  const tone = c.state === 'completed' || c.state === 'reverted' ? 'ok' : /fail/i.test(c.state) ? 'bad' : 'warn';
  const cite2 = (refs: EventRef[]) => esc(cite(refs));
  const rows = (cells: unknown[][]) => cells.map((r) => `<tr>${r.map((x) => `<td>${x}</td>`).join('')}</tr>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>cutter report ${esc(c.cutId)}</title><style>${CSS}</style></head><body>
<h1>Cut ${esc(c.cutId)} <span class="badge ${tone}" id="outcome">${esc(c.state)}</span></h1>
<p><strong>${esc(c.outcome)}</strong></p>
<dl><dt>target</dt><dd>${esc(c.target)} (<code>${esc(c.table)}</code>), ${c.rowCount} change(s)</dd><dt>author</dt><dd>${esc(c.author)}</dd>
<dt>reason</dt><dd>${esc(c.reason)}</dd><dt>plan hash</dt><dd class="mono">${esc(c.planHash)}</dd><dt>generated</dt><dd>${esc(c.generatedAt)} from ${m.timeline.length} events</dd></dl>
<h2>Gate roll-up</h2><table id="gates"><tr><th>Gate</th><th>Outcome</th><th>At</th><th>Receipt</th><th>Detail</th><th>Events</th></tr>
${rows(m.gates.map((g) => [esc(g.gate), `<span class="gate-${esc(g.outcome.split(' ')[0])}">${esc(g.outcome)}</span>${g.reconciled ? ' (reconciled)' : ''}`, esc(g.at ?? ''), `<code>${esc((g.receipt ?? '').slice(0, 16))}</code>`, esc(g.detail ?? ''), cite2(g.events)]))}</table>
<h2>Approvals</h2><table id="approvals"><tr><th>Approver</th><th>Roles</th><th>At</th><th>Key</th><th>Governance</th><th>Signature</th></tr>
${rows(m.approvals.map((a) => [esc(a.approver), esc(a.roles.join(', ')), esc(a.at), `<code>${esc(a.key ?? 'unsigned')}</code>`, a.governanceVersion ? `v${a.governanceVersion}` : '-', a.signatureVerified ? (m.trust.checked ? 'verified against governance' : 'verified (self-consistent only)') : '<span class="VIOLATED">INVALID</span>']))}</table>
<h2>Authority</h2><p id="trust">Trust root: ${m.trust.root ? `<code>${esc(m.trust.root)}</code>` : m.trust.checked ? '<span class="VIOLATED">none found</span>' : 'not checked (no trust root pinned or given)'}. Events signed under governance version(s): ${esc(m.trust.governanceVersions.map((v) => `v${v}`).join(', ') || 'none')}.</p>
<h2>Lock evidence</h2><table id="locks"><tr><th>Event</th><th>At</th><th>config</th><th>env</th><th>kill-switch</th></tr>
${rows(m.lockEvidence.map((l) => [`#${l.event.version} ${esc(l.kind)}`, esc(l.at), l.config ? 'open' : 'CLOSED', l.env ? 'open' : 'CLOSED', l.killSwitch ? 'released' : 'ENGAGED']))}</table>
<h2>Dry runs and non-mutation evidence</h2><table id="dryruns"><tr><th>Run</th><th>Result</th><th>Diff</th><th>Pre-image before = after</th></tr>
${rows(m.dryRuns.map((d) => [esc(d.runId), d.passed ? 'passed' : 'FAILED', `${d.diff.inserts} inserts, ${d.diff.updates} updates, ${d.diff.deletes} deletes, ${d.diff.unchanged} unchanged`, `<code>${esc(d.nonMutation.before.slice(0, 16))}…</code> ${d.nonMutation.equal ? '= yes' : '≠ NO'}`]))}</table>
<h2>Forbidden-action attestation</h2><table id="attestation"><tr><th>Forbidden</th><th>Status</th><th>Evidence</th><th>Note</th></tr>
${rows(m.attestations.map((a) => [esc(a.forbidden), `<span class="${a.status.replace(' ', '-')}">${esc(a.status)}</span>`, cite2(a.evidence), esc(a.note)]))}</table>
<h2>Hash chain and replay</h2><p id="chain">Stream <code>${esc(m.chain.streamId)}</code> head v${m.chain.headVersion} <code>${esc(m.chain.headHash)}</code>: ${m.chain.verified ? 'chain verified' : '<span class="VIOLATED">CHAIN BROKEN</span>'}.
Replay: ${m.violations.length === 0 ? 'clean — every transition legal.' : `<span class="VIOLATED">${m.violations.length} violation(s)</span>`}</p>
${m.violations.length ? `<ul>${m.violations.map((v) => `<li>#${v.version} ${esc(v.type)}: ${esc(v.rule)} — ${esc(v.message)}</li>`).join('')}</ul>` : ''}
<h2>State diagram — the path this cut took</h2><div id="diagram">${svg}</div>
<h2>Timeline</h2><table id="timeline"><tr><th>#</th><th>Recorded</th><th>Event</th><th>Actor</th><th>Key</th></tr>
${rows(m.timeline.map((t) => [t.version, esc(t.at), esc(t.type), esc(t.actor), `<code>${esc(t.key ?? 'unsigned')}</code>`]))}</table>
</body></html>
`;
}
