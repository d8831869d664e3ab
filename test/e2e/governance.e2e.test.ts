/**
 * Governance changes through the CLI (DESIGN §7): a version signed by the admins of the version
 * before it, a member enrolled with an OpenSSH key who signs through ssh-keygen (SSHSIG, verified
 * by cutter itself), a removed approver whose old approval no longer counts, and a threshold that
 * one admin alone cannot meet.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { cutter } from '../support/cli.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  cutter(args, { cwd: ws.dir, env: { ...ws.env, ...env } });

let lastFile = '';
/** The next governance file: the previous one (genesis's at first) with `edit` applied. */
function governanceFile(
  name: string,
  edit: (g: {
    members: Record<string, { publicKey: string; roles: string[] }>;
    policy: Record<string, unknown>;
    admins: { threshold: number };
  }) => void,
): string {
  const g = parse(readFileSync(lastFile || ws.governanceFile, 'utf8'));
  edit(g);
  const file = path.join(ws.dir, name);
  writeFileSync(file, stringify(g));
  lastFile = file;
  return file;
}

beforeAll(async () => {
  ws = await testWorkspace({ rows: 20 });
});
afterAll(async () => ws?.drop());

describe('a governance change', () => {
  it('enrols an OpenSSH key, removes an approver, and the run counts only approvals that still hold', async () => {
    ws.writePlan('p1', bigPlan('gov-1', 2, 20));
    expect((await run(['plan', path.join(ws.dir, 'p1.yaml'), '--as', 'erin'])).code).toBe(0);
    expect((await run(['approve', 'gov-1', '--as', 'alice'])).code).toBe(0);
    expect((await run(['approve', 'gov-1', '--as', 'bob'])).code).toBe(0);
    expect((await run(['run', 'gov-1', '--dry-run', '--as', 'erin'])).code).toBe(0);

    // sam keeps an OpenSSH key: cutter signs with ssh-keygen -Y sign and verifies SSHSIG itself.
    execFileSync('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      'sam@laptop',
      '-f',
      path.join(ws.keys, 'sam.ssh'),
    ]);
    const samPub = readFileSync(path.join(ws.keys, 'sam.ssh.pub'), 'utf8').trim();
    const v2 = governanceFile('v2.yaml', (g) => {
      delete g.members.bob;
      g.members.sam = { publicKey: samPub, roles: ['approver', 'dba'] };
    });
    const notAdmin = await run(['governance', 'apply', v2, '--as', 'erin']);
    expect(notAdmin.code).toBe(3);
    expect(notAdmin.stderr).toContain('needs role admin');
    const applied = await run(['governance', 'apply', v2, '--as', 'dana', '--json']);
    expect(applied.code).toBe(0);
    expect(applied.json).toMatchObject({ applied: 'effective', version: 2, root: ws.root });
    const show = await run(['governance', 'show', '--json']);
    const sam = show.json.members.find((m: { name: string }) => m.name === 'sam');
    expect(sam.key).toBe(
      execFileSync('ssh-keygen', ['-lf', path.join(ws.keys, 'sam.ssh.pub')])
        .toString()
        .split(' ')[1],
    );

    // bob's approval was valid when given; now only alice's holds: one of two.
    const before = await ws.target.query`SELECT count(*)::int AS n FROM public.documents`;
    const refused = await run(['run', 'gov-1', '--live', '--as', 'erin']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('approval by bob: not a member of governance version 2');
    expect(refused.stderr).toContain('approvals: 1 of 2 required');
    expect(await ws.target.query`SELECT count(*)::int AS n FROM public.documents`).toEqual(before);

    const bySam = await run(['approve', 'gov-1', '--as', 'sam']);
    expect(bySam.code).toBe(0);
    expect(bySam.stdout).toContain(`with key ${sam.key} (governance v2)`);
    const live = await run(['run', 'gov-1', '--live', '--as', 'erin', '--json']);
    expect(live.code).toBe(0);
    expect(live.json.state).toBe('completed');
    const replay = await run(['replay', '--all', '--json']);
    expect(replay.json.violations).toEqual([]);
    expect(replay.code).toBe(0);
    expect(replay.json.trust).toEqual({ root: ws.root, governanceVersion: 2 });
  });

  it('needs admins.threshold admins of the version in force to sign the next one', async () => {
    const v3 = governanceFile('v3.yaml', (g) => {
      g.admins.threshold = 2;
      g.members.alice!.roles = ['approver', 'admin'];
    });
    expect((await run(['governance', 'apply', v3, '--as', 'dana', '--json'])).json.version).toBe(3);
    const v4 = governanceFile('v4.yaml', (g) => {
      g.policy.requiredApprovals = 3;
    });
    const proposed = await run(['governance', 'apply', v4, '--as', 'dana', '--json']);
    expect(proposed.code).toBe(0);
    expect(proposed.json).toMatchObject({
      applied: 'proposed',
      version: 3,
      pending: { version: 4, signatures: 1, needed: 2 },
    });
    const twice = await run(['governance', 'approve', '4', '--as', 'dana']);
    expect(twice.code).toBe(3);
    expect(twice.stderr).toContain('has already signed');
    const byOperator = await run(['governance', 'approve', '4', '--as', 'erin']);
    expect(byOperator.code).toBe(3);
    const second = await run(['governance', 'approve', '4', '--as', 'alice', '--json']);
    expect(second.code).toBe(0);
    expect(second.json).toMatchObject({ effective: true, version: 4 });
    expect((await run(['replay', '--all'])).code).toBe(0);
  });
});
