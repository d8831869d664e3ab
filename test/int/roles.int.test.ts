/**
 * Least privilege: the roles of docs/roles.sql, created from that very file, run a full cut — plan,
 * approvals, dry run, live run, revert, replay — and the store writer cannot UPDATE, DELETE or
 * TRUNCATE events. Then the attacks, over plain SQL: the writer cannot forge events or reset stream
 * heads (it appends only through the SECURITY DEFINER `cutter.append_events`, which still checks
 * what it is given), cannot escalate through that function, and an upgraded store loses the grants
 * an earlier roles.sql gave. The owner's boundary is shown as it is: it can rewrite history.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayStore } from '../../src/audit/replay.js';
import { approveCut } from '../../src/cuts/approve.js';
import { planCut } from '../../src/cuts/plan.js';
import { dryRun } from '../../src/runner/dry-run.js';
import { runLive } from '../../src/runner/live.js';
import { revertCut } from '../../src/runner/revert.js';
import { inlineChanges } from '../../src/config/changes.js';
import { executorFor } from '../../src/adapters/index.js';
import { eventDigest } from '../../src/store/append.js';
import { linkHash, verifyChain } from '../../src/store/chain.js';
import { connect, sql, type Queryable } from '../../src/store/connection.js';
import { openStore } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { rowToEvent } from '../../src/store/read.js';
import { adminUrl } from '../support/db.js';
import { bigPlan, testWorkspace, type TestWorkspace } from '../support/workspace.js';

const suffix = randomBytes(3).toString('hex');
const roles = {
  owner: `cutter_store_owner_${suffix}`,
  writer: `cutter_store_writer_${suffix}`,
  target: `cutter_target_${suffix}`,
};
let ws: TestWorkspace;

/** The statements of one `-- @part` of docs/roles.sql, with this test's role and database names. */
function part(name: 'roles' | 'store' | 'target', dbName = ''): string[] {
  const text = readFileSync(path.resolve(import.meta.dirname, '../../docs/roles.sql'), 'utf8')
    .replaceAll('cutter_store_owner', roles.owner)
    .replaceAll('cutter_store_writer', roles.writer)
    .replaceAll('cutter_target', roles.target)
    .replaceAll('DATABASE cutter_store', `DATABASE ${dbName}`)
    .replaceAll("'change-me'", "'pw'");
  const section = text.split(/^-- @part /m).find((p) => p.startsWith(name))!;
  return section
    .split('\n')
    .filter((l) => !l.startsWith('--') && !l.startsWith(name))
    .join('\n')
    .split(';')
    .map((x) => x.trim())
    .filter(Boolean);
}

async function exec(url: string, statements: string[]): Promise<void> {
  const db = connect(url, { poolSize: 1 });
  try {
    for (const s of statements) await db.query(sql.__dangerous__rawValue(s));
  } finally {
    await db.dispose();
  }
}

const as = (url: string, role: string) => Object.assign(new URL(url), { username: role, password: 'pw' }).toString();

const APPEND_FN = 'cutter.append_events(text, text, uuid[], text[], jsonb[], jsonb[], text[], timestamptz)';
const ZEROS = '0'.repeat(64);

/** Runs `fn` on a one-connection pool as `role` on the store database. */
async function asRole<T>(role: string, fn: (db: Queryable & { tx: any }) => Promise<T>): Promise<T> {
  const db = connect(as(ws.store.url, role), { poolSize: 1 });
  try {
    return await fn(db);
  } finally {
    await db.dispose();
  }
}

/** One raw call of the append function, with values only (what any client holding the writer's password can send). */
function rawAppend(stream: string, expected: string, ids: string[], digests: string[]) {
  return sql`SELECT * FROM cutter.append_events(${stream}, ${expected}, ${ids}::uuid[],
    ${ids.map(() => 'Forged')}::text[], ${ids.map(() => '{"forged": true}')}::jsonb[], ${ids.map(() => '{}')}::jsonb[],
    ${digests}::text[], now())`;
}

/**
 * testWorkspace records governance as the superuser, so the store already exists, owned by it, when
 * the roles are created: hand schema `cutter` and everything in it to the owner, as a DBA would
 * (docs/roles.sql, part roles). Nothing to do when the owner already owns it.
 */
async function handOver(superUrl: string, owner: string): Promise<void> {
  const db = connect(superUrl, { poolSize: 1 });
  try {
    if (!(await db.query(sql`SELECT to_regnamespace('cutter') IS NOT NULL AS e`))[0]!.e) return;
    const to = sql.ident(owner);
    const raw = sql.__dangerous__rawValue;
    await db.query(sql`ALTER SCHEMA cutter OWNER TO ${to}`);
    for (const r of await db.query(
      sql`SELECT oid::regclass::text AS name FROM pg_class WHERE relnamespace = 'cutter'::regnamespace AND relkind IN ('r', 'p', 'v', 'm')`,
    )) {
      await db.query(sql`ALTER TABLE ${raw(r.name)} OWNER TO ${to}`);
    }
    for (const f of await db.query(
      sql`SELECT oid::regprocedure::text AS sig FROM pg_proc WHERE pronamespace = 'cutter'::regnamespace`,
    )) {
      await db.query(sql`ALTER FUNCTION ${raw(f.sig)} OWNER TO ${to}`);
    }
  } finally {
    await db.dispose();
  }
}

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: { code?: string; message: string }) => e,
  );

afterAll(async () => {
  await ws?.drop();
  const admin = connect(adminUrl(), { poolSize: 1 });
  for (const r of Object.values(roles))
    await admin.query(sql`DROP ROLE IF EXISTS ${sql.ident(r)}`).catch(() => undefined);
  await admin.dispose();
});

describe('least privilege', () => {
  it('runs a full cut under the documented roles, and the writer cannot edit events', async () => {
    ws = await testWorkspace({ rows: 10, governance: false });
    const storeName = new URL(ws.store.url).pathname.slice(1);
    await exec(ws.store.url, part('roles', storeName));
    await handOver(ws.store.url, roles.owner);
    await (await openStore(as(ws.store.url, roles.owner))).close(); // the owner migrates (nothing left to do after the hand-over)
    await exec(as(ws.store.url, roles.owner), part('store'));
    const prep = executorFor('live', ws.target.spec, inlineChanges([]));
    await prep.prepare();
    await prep.close();
    await exec(ws.target.db.url, part('target'));
    ws.env.CUTTER_STORE_URL = as(ws.store.url, roles.writer);
    ws.env.KB_URL = as(ws.target.db.url, roles.target);
    await ws.recordGovernance(); // genesis appended by the writer role

    const file = ws.writePlan('c1', bigPlan('c1', 4, 10));
    const run = async <T>(actor: string, fn: (s: ReturnType<TestWorkspace['session']>) => Promise<T>) => {
      const s = ws.session(actor);
      try {
        return await fn(s);
      } finally {
        await s.close();
      }
    };
    await run('erin', (s) => planCut(s, file));
    await run('alice', (s) => approveCut(s, 'c1'));
    await run('bob', (s) => approveCut(s, 'c1'));
    await run('erin', (s) => dryRun(s, 'c1'));
    expect((await run('erin', (s) => runLive(s, 'c1'))).state).toBe('completed');
    expect((await run('erin', (s) => revertCut(s, 'c1', { mode: 'live', force: false }))).state).toBe('reverted');
    expect(
      (await run('auditor', async (s) => replayStore(await s.store(), undefined, { trustRoot: ws.root }))).violations,
    ).toEqual([]);

    const writer = connect(ws.env.CUTTER_STORE_URL, { poolSize: 1 });
    await expect(writer.query(sql`UPDATE cutter.events SET type = 'X'`)).rejects.toThrow(/permission denied/);
    await expect(writer.query(sql`DELETE FROM cutter.events`)).rejects.toThrow(/permission denied/);
    await expect(writer.query(sql`TRUNCATE cutter.events`)).rejects.toThrow(/permission denied/);
    await writer.dispose();
  });

  it('the writer cannot INSERT events nor insert, update or delete stream heads: permission denied', async () => {
    await asRole(roles.writer, async (w) => {
      const head = (
        await w.query(sql`SELECT stream_id, version FROM cutter.streams WHERE version > 0 ORDER BY stream_id LIMIT 1`)
      )[0]!;
      const denied = /permission denied for table (events|streams)/;
      await expect(
        w.query(sql`
        INSERT INTO cutter.events (stream_id, version, event_id, type, data, metadata, recorded_at, digest, prev_hash, hash)
        VALUES (${head.stream_id}, ${Number(head.version) + 1}, gen_random_uuid(), 'Forged', '{}', '{}', now(), ${ZEROS}, NULL, ${ZEROS})`),
      ).rejects.toThrow(denied);
      await expect(
        w.query(sql`UPDATE cutter.streams SET version = 0, head_hash = NULL WHERE stream_id = ${head.stream_id}`),
      ).rejects.toThrow(denied);
      await expect(
        w.query(sql`INSERT INTO cutter.streams (stream_id, version, head_hash) VALUES ('forged', 7, ${ZEROS})`),
      ).rejects.toThrow(denied);
      await expect(w.query(sql`DELETE FROM cutter.streams WHERE stream_id = ${head.stream_id}`)).rejects.toThrow(
        denied,
      );
      // Nor plant a trigger that would run as the owner inside the function, nor add objects to the schema.
      await expect(
        w.query(
          sql`CREATE TRIGGER t BEFORE INSERT ON cutter.events FOR EACH ROW EXECUTE FUNCTION cutter.refuse_change()`,
        ),
      ).rejects.toThrow(/permission denied|must be owner/);
      await expect(w.query(sql`CREATE TABLE cutter.x (a int)`)).rejects.toThrow(/permission denied for schema cutter/);
      // The heads it can read are unchanged.
      expect(
        (await w.query(sql`SELECT version FROM cutter.streams WHERE stream_id = ${head.stream_id}`))[0]!.version,
      ).toBe(head.version);
    });
  });

  it("through cutter.append_events the writer is still checked: expected version, id reuse, malformed arrays; the hash is the function's", async () => {
    await asRole(roles.writer, async (w) => {
      const head = (
        await w.query(
          sql`SELECT stream_id, version, head_hash FROM cutter.streams WHERE version > 1 ORDER BY stream_id LIMIT 1`,
        )
      )[0]!;
      const v = Number(head.version);
      // A forged expected version (a stale one, to overwrite version 1; or one from the future).
      expect(await errorOf(w.query(rawAppend(head.stream_id, '0', [randomUUID()], [ZEROS])))).toMatchObject({
        code: 'CT409',
        message: String(v),
      });
      expect(await errorOf(w.query(rawAppend(head.stream_id, String(v + 5), [randomUUID()], [ZEROS])))).toMatchObject({
        code: 'CT409',
      });
      expect(await errorOf(w.query(rawAppend(head.stream_id, 'no_stream', [randomUUID()], [ZEROS])))).toMatchObject({
        code: 'CT409',
      });
      // An existing event id with other content.
      const existing = (
        await w.query(
          sql`SELECT event_id::text AS id FROM cutter.events WHERE stream_id = ${head.stream_id} AND version = 1`,
        )
      )[0]!.id;
      expect(await errorOf(w.query(rawAppend(head.stream_id, 'any', [existing], [ZEROS])))).toMatchObject({
        code: 'CT422',
      });
      // Arrays of different lengths: a missing digest or type leaves a NULL the table refuses.
      expect(
        await errorOf(w.query(rawAppend(head.stream_id, 'any', [randomUUID(), randomUUID()], [ZEROS]))),
      ).toMatchObject({ code: '23502' });
      expect(
        (await w.query(sql`SELECT version, head_hash FROM cutter.streams WHERE stream_id = ${head.stream_id}`))[0],
      ).toEqual({ version: v, head_hash: head.head_hash });

      // A digest that does not match the content: the function cannot recompute canonical JSON, so it
      // stores the event, but it computes the link itself (there is no hash argument) and the chain
      // check, run by replay, names the event.
      const stream = `attack-digest-${suffix}`;
      const [row] = await w.query(rawAppend(stream, 'no_stream', [randomUUID()], [ZEROS]));
      expect(row).toMatchObject({ r_version: 1, r_prev_hash: null, r_hash: linkHash(null, stream, 1, ZEROS) });
      const report = await verifyChain(w, stream);
      expect(report).toMatchObject({
        ok: false,
        firstBroken: {
          streamId: stream,
          version: 1,
          reason: expect.stringContaining("does not match the event's content"),
        },
      });
    });
  });

  it('SECURITY DEFINER gives nothing away: owned by the owner, pinned search_path, no dynamic SQL, no EXECUTE for PUBLIC', async () => {
    await asRole(roles.owner, async (o) => {
      const [fn] = await o.query(sql`
        SELECT p.prosecdef, p.proconfig, p.proowner::regrole::text AS owner, p.prosrc,
               (SELECT count(*)::int FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS public_grants,
               has_function_privilege(${roles.writer}, p.oid, 'EXECUTE') AS writer_exec,
               has_function_privilege(${roles.target}, p.oid, 'EXECUTE') AS other_exec
        FROM pg_proc p WHERE p.oid = ${APPEND_FN}::regprocedure`);
      expect(fn).toMatchObject({
        prosecdef: true,
        proconfig: ['search_path=pg_catalog, pg_temp', 'plan_cache_mode=force_generic_plan', 'enable_seqscan=off'],
        owner: roles.owner,
        public_grants: 0,
        writer_exec: true,
        other_exec: false,
      });
      expect(fn!.prosrc).not.toMatch(/\bEXECUTE\b/i);
      // Every relation the body names is schema-qualified.
      const relations = [...(fn!.prosrc as string).matchAll(/\b(?:FROM|JOIN|INTO|UPDATE)\s+([a-z_][\w.]*)/gi)].map(
        (m) => m[1],
      );
      expect(
        relations.filter(
          // not relations: unnest(...), SELECT … INTO variables, extract(epoch FROM p_recorded - …)
          (r) => !r!.startsWith('cutter.') && !['unnest', 'found_ids', 'cur_ver', 'p_recorded'].includes(r!),
        ),
      ).toEqual([]);
    });
  });

  it('a store migrated under the earlier roles.sql: migration 6 takes the direct write grants back', async () => {
    const m6 = MIGRATIONS.find((m) => m.version === 6)!;
    await asRole(roles.owner, async (o) => {
      await o.query(sql`GRANT INSERT ON cutter.events TO ${sql.ident(roles.writer)}`);
      await o.query(sql`GRANT INSERT, UPDATE, TRIGGER ON cutter.streams TO ${sql.ident(roles.writer)}`);
      await o.query(sql.__dangerous__rawValue(`GRANT EXECUTE ON FUNCTION ${APPEND_FN} TO PUBLIC`));
      await o.query(sql.__dangerous__rawValue(m6.up));
      const [p] = await o.query(sql`SELECT
        has_table_privilege(${roles.writer}, 'cutter.events', 'INSERT') AS ev_insert,
        has_table_privilege(${roles.writer}, 'cutter.streams', 'INSERT, UPDATE, TRIGGER') AS st_write,
        has_table_privilege(${roles.writer}, 'cutter.events', 'SELECT') AND has_table_privilege(${roles.writer}, 'cutter.streams', 'SELECT') AS reads,
        has_function_privilege(${roles.writer}, ${APPEND_FN}, 'EXECUTE') AS writer_exec,
        has_function_privilege(${roles.target}, ${APPEND_FN}, 'EXECUTE') AS other_exec`);
      expect(p).toEqual({ ev_insert: false, st_write: false, reads: true, writer_exec: true, other_exec: false });
    });
  });

  it('the owner (not a superuser) appends by ownership, and can rewrite history: the database cannot stop it', async () => {
    const ownerUrl = as(ws.store.url, roles.owner);
    await asRole(roles.owner, async (o) => {
      expect((await o.query(sql`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`))[0]!.rolsuper).toBe(false);
    });
    const store = await openStore(ownerUrl);
    const stream = `owner-rewrite-${suffix}`;
    try {
      await store.append(stream, [{ type: 'Paid', data: { amount: 100 } }], { expectedVersion: 'no_stream' });
      expect(await store.verifyChain(stream)).toEqual({ ok: true, checked: 1 });
    } finally {
      await store.close();
    }
    await asRole(roles.owner, async (o) => {
      await expect(
        o.query(sql`UPDATE cutter.events SET data = '{"amount": 1}' WHERE stream_id = ${stream}`),
      ).rejects.toThrow(/append-only/);
      // The owner may disable its own table's triggers, edit the event, recompute the chain and move the head.
      await o.tx(async (tx: Queryable) => {
        await tx.query(sql`ALTER TABLE cutter.events DISABLE TRIGGER events_immutable`);
        const e = rowToEvent(
          (
            await tx.query(sql`
          SELECT global_position, transaction_id::text AS transaction_id, stream_id, version, event_id::text AS event_id,
                 type, data, metadata, recorded_at, prev_hash, hash FROM cutter.events WHERE stream_id = ${stream}`)
          )[0],
        );
        const data = { amount: 1 };
        const digest = eventDigest({ ...e, data });
        const hash = linkHash(null, stream, 1, digest);
        await tx.query(
          sql`UPDATE cutter.events SET data = ${JSON.stringify(data)}::jsonb, digest = ${digest}, hash = ${hash} WHERE stream_id = ${stream}`,
        );
        await tx.query(sql`UPDATE cutter.streams SET head_hash = ${hash} WHERE stream_id = ${stream}`);
        await tx.query(sql`ALTER TABLE cutter.events ENABLE TRIGGER events_immutable`);
      });
      // The rewrite verifies: only anchors outside the store (signatures, signed checkpoints, #14) can catch it.
      expect(await verifyChain(o, stream)).toEqual({ ok: true, checked: 1 });
      expect((await o.query(sql`SELECT data FROM cutter.events WHERE stream_id = ${stream}`))[0]!.data).toEqual({
        amount: 1,
      });
    });
  });
});
