/**
 * Secrets campaign: a full cut with a password in every URL and a passphrase-protected backup key,
 * then a scan of the events, the backups' metadata, the reports, every command's output and a
 * --debug error trace: none may contain a secret. (The local server trusts loopback, so the
 * passwords are accepted without being checked; the embedded server's real password is used there.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, sql } from '../../src/store/connection.js';
import { cutter } from '../support/cli.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';

let PASSWORD = 'Pw-9f3c1e77-secret';
const PASSPHRASE = 'Pass-phrase-4b1d-secret';
let ws: TestWorkspace;

const withPassword = (url: string) => {
  const u = new URL(url);
  u.password = PASSWORD;
  return u.toString();
};

beforeAll(async () => {
  ws = await testWorkspace({ rows: 20, passphrase: PASSPHRASE });
  // On a server that checks passwords (the embedded one), the real password is the secret to hunt for.
  PASSWORD = new URL(ws.env.CUTTER_STORE_URL!).password || PASSWORD;
  ws.writePlan('plan', bigPlan('cut-secret', 4, 20));
});
afterAll(async () => ws?.drop());

describe('secrets', () => {
  it('never reach events, reports, output or --debug traces', async () => {
    const env = {
      ...ws.env,
      CUTTER_STORE_URL: withPassword(ws.env.CUTTER_STORE_URL!),
      KB_URL: withPassword(ws.env.KB_URL!),
    };
    const run = (args: string[], extra: Record<string, string | undefined> = {}) =>
      cutter([...args, '--debug'], { cwd: ws.dir, env: { ...env, ...extra } });
    const outputs = [
      await run(['plan', 'plan.yaml', '--as', 'erin']),
      await run(['approve', 'cut-secret', '--as', 'alice']),
      await run(['approve', 'cut-secret', '--as', 'bob']),
      await run(['run', 'cut-secret', '--dry-run', '--as', 'erin']),
      await run(['run', 'cut-secret', '--live', '--as', 'erin'], { CUTTER_EXECUTION_ENABLED: undefined }),
      await run(['run', 'cut-secret', '--live', '--as', 'erin', '--json']),
      await run(['report', 'cut-secret', '--format', 'json']),
      await run(['report', 'cut-secret', '--format', 'html']),
      await run(['revert', 'cut-secret', '--live', '--as', 'erin']),
      await run(['revert', 'cut-secret', '--live', '--as', 'erin'], { CUTTER_BACKUP_PASSPHRASE: 'wrong' }),
      await run(['history', 'cut-secret', '--json']),
      await run(['status', '--json']),
    ];
    expect(outputs[5]!.code).toBe(0);
    expect(outputs[8]!.code).toBe(0);
    const db = connect(ws.store.url, { poolSize: 1 });
    const events = await db.query(sql`SELECT data::text || metadata::text AS t FROM cutter.events`);
    const backups = await db.query(
      sql`SELECT cut_id || run_id || array_to_string(recipients, ',') AS t FROM cutter.backups`,
    );
    await db.dispose();
    const haystack = [
      ...outputs.flatMap((o) => [o.stdout, o.stderr]),
      ...events.map((e) => e.t),
      ...backups.map((b) => b.t),
    ].join('\n');
    expect(haystack.length).toBeGreaterThan(1000);
    expect(haystack).not.toContain(PASSWORD);
    expect(haystack).not.toContain(PASSPHRASE);
    expect(haystack).not.toContain('PRIVATE KEY');
  });
});
