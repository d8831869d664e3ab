/** The audit report from events: content, escaping, the highlighted path — and a real headless Chromium render. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MACHINE_VERSION } from '../../machines/cut.js';
import { toStorable, type DomainEvent } from '../../events/index.js';
import { buildReport } from '../../src/audit/report-model.js';
import { renderHtml, renderMarkdown } from '../../src/audit/render.js';
import type { StoredEvent } from '../../src/store/index.js';
import {
  happy,
  halted,
  planned,
  approval,
  dryRun,
  liveStart,
  phaseEvents,
  revertStart,
  reverted,
} from '../support/cut-events.js';

function storedOf(events: DomainEvent[]): StoredEvent[] {
  return events.map((e, i) => ({
    ...toStorable(e, { machineVersion: MACHINE_VERSION }),
    metadata: { machineVersion: MACHINE_VERSION, schemaVersion: e.type === 'ApprovalGranted' ? 2 : 1, actor: 'erin' },
    eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    streamId: 'cut-c1',
    version: i + 1,
    globalPosition: String(i + 1),
    transactionId: String(100 + i),
    recordedAt: new Date(Date.parse('2026-11-25T10:00:00Z') + i * 1000).toISOString(),
    prevHash: i ? 'x' : null,
    hash: `${i}`.padStart(64, 'a'),
  }));
}

describe('report model', () => {
  it('rolls up gates, attests forbidden actions citing events, and marks the path', () => {
    const m = buildReport(storedOf([...happy(), revertStart(), reverted()]), true, '2026-11-25T12:00:00Z');
    expect(m.cut.outcome).toMatch(/^REVERTED/);
    expect(m.gates.map((g) => [g.gate, g.outcome])).toEqual([
      ['precheck', 'PASS'],
      ['approvals', 'PASS'],
      ['dry run', 'PASS'],
      ['pre_write_backup', 'PASS'],
      ['cut_leg_a', 'PASS'],
      ['leg_b_record', 'PASS'],
      ['write_verify', 'PASS'],
      ['lifecycle_enact', 'PASS'],
      ['revert', 'PASS'],
    ]);
    expect(m.attestations.map((a) => a.status)).toEqual(m.attestations.map(() => 'NOT DONE'));
    expect(m.attestations.filter((a) => a.evidence.length === 0).map((a) => a.forbidden)).toEqual([
      'Write after a kill-switch halt',
    ]);
    expect(m.approvals.map((a) => a.signatureVerified)).toEqual([true, true]);
    expect(m.diagram.path).toEqual(
      expect.arrayContaining(['planned', 'approved', 'live', 'live.legA', 'completed', 'reverting', 'reverted']),
    );
    expect(m.diagram.dot).toMatch(/"live\.legA" -> "live\.legB" \[label="LegAWritten", class="path"/);
  });

  it('reports a halted cut as halted and its unrun gates as HALTED', () => {
    const P = phaseEvents();
    const m = buildReport(
      storedOf([planned(), approval('alice'), approval('bob', 2), ...dryRun(), liveStart(), P.backup!, halted('legA')]),
      true,
      'now',
    );
    expect(m.cut.outcome).toMatch(/^HALTED before legA/);
    expect(m.gates.find((g) => g.gate === 'cut_leg_a')?.outcome).toBe('HALTED');
  });
});

describe('rendering', () => {
  const hostile = (): StoredEvent[] => {
    const events = storedOf([...happy(), revertStart(), reverted()]);
    (events[0]!.data as { reason: string }).reason = '<script>alert(1)</script> & "quotes"';
    return events;
  };

  it('escapes operator text in HTML and Markdown and needs no network', async () => {
    const m = buildReport(hostile(), true, 'now');
    const html = await renderHtml(m);
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;');
    expect(html.match(/https?:\/\/[^\s"'<>]+/g)?.filter((u) => !u.includes('www.w3.org')) ?? []).toEqual([]);
    expect(html).toMatch(/<svg[\s\S]*class="node path"/);
    expect(renderMarkdown(m)).toContain('\\<script\\>');
  });

  const chromium = '/usr/bin/chromium';
  if (!existsSync(chromium))
    console.log('report browser test skipped: /usr/bin/chromium is absent (bash .ci/install-chromium.sh installs it)');
  it.skipIf(!existsSync(chromium))(
    'renders in headless Chromium with the phases and the highlighted path on the page',
    async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'cutter-report-'));
      const file = path.join(dir, 'report.html');
      writeFileSync(file, await renderHtml(buildReport(hostile(), true, 'now')));
      const flags = [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${path.join(dir, 'profile')}`,
      ];
      const png = path.join(dir, 'report.png');
      execFileSync(chromium, [...flags, `--screenshot=${png}`, '--window-size=1280,2400', `file://${file}`], {
        stdio: 'ignore',
        timeout: 150_000,
      });
      expect(statSync(png).size).toBeGreaterThan(50_000);
      const dom = execFileSync(chromium, [...flags, '--dump-dom', `file://${file}`], {
        timeout: 150_000,
        stdio: ['ignore', 'pipe', 'ignore'],
      }).toString();
      for (const phase of ['pre_write_backup', 'cut_leg_a', 'leg_b_record', 'write_verify', 'lifecycle_enact'])
        expect(dom).toContain(phase);
      expect(dom).toMatch(/<g id="[^"]*" class="node path">/);
      expect(dom).toMatch(/<g id="[^"]*" class="edge path">/);
      expect(dom).not.toContain('<script>alert(1)</script>');
    },
    330_000,
  ); // two Chromium starts on a loaded 2-core CI machine
});
