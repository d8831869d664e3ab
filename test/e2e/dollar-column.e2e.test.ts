/**
 * A target table with a column whose name starts with `$` (the row SQL's own aliases do): `cutter
 * plan` refuses it at the read-only precheck, exit 2, naming the column, and records nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, sql } from '../../src/store/connection.js';
import { cutter } from '../support/cli.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';

let ws: TestWorkspace;
const run = (args: string[]) => cutter(args, { cwd: ws.dir, env: ws.env });

beforeAll(async () => {
  ws = await testWorkspace({ rows: 10 });
  ws.writePlan('plan', bigPlan('cut-dollar', 4, 10));
  await ws.target.query`ALTER TABLE public.documents ADD COLUMN "$note" text`;
});
afterAll(async () => ws?.drop());

describe('a target with a column named $…', () => {
  it('is refused by cutter plan with exit 2, naming the column, and nothing is recorded', async () => {
    const r = await run(['plan', 'plan.yaml', '--as', 'erin']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('targets.kb: public.documents has a column named "$note"');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const db = connect(ws.store.url, { poolSize: 1 });
    try {
      const [row] = await db.query(sql`SELECT count(*)::int AS n FROM cutter.events WHERE stream_id LIKE 'cut-%'`);
      expect(row?.n).toBe(0);
    } finally {
      await db.dispose();
    }
  });
});
