/** The store contract, against real PostgreSQL: versions, conflicts, idempotency, immutability, chain, metadata. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrencyError } from '../../src/errors.js';
import { eventDigest } from '../../src/store/append.js';
import { linkHash } from '../../src/store/chain.js';
import { connect, sql } from '../../src/store/connection.js';
import { openStore, type EventStore } from '../../src/store/index.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let store: EventStore;
beforeAll(async () => {
  db = await freshDatabase();
  store = await openStore(db.url);
});
afterAll(async () => {
  await store.close();
  await db.drop();
});

const ev = (type: string, data: unknown = {}) => ({ type, data });

describe('expected versions', () => {
  it('starts streams at version 1 and enforces a numeric expected version', async () => {
    const s = `s-${randomUUID()}`;
    expect((await store.append(s, [ev('A'), ev('B')], { expectedVersion: 0 })).nextVersion).toBe(2);
    expect((await store.append(s, [ev('C')], { expectedVersion: 2 })).nextVersion).toBe(3);
    const err = await store.append(s, [ev('D')], { expectedVersion: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(ConcurrencyError);
    expect(err.actual).toBe(3);
    expect((await store.readStream(s)).map((e) => [e.version, e.type])).toEqual([
      [1, 'A'],
      [2, 'B'],
      [3, 'C'],
    ]);
  });

  it("enforces 'no_stream', 'exists' and accepts 'any'", async () => {
    const s = `s-${randomUUID()}`;
    await expect(store.append(s, [ev('A')], { expectedVersion: 'exists' })).rejects.toMatchObject({
      code: 'Concurrency',
      actual: 0,
    });
    await store.append(s, [ev('A')], { expectedVersion: 'no_stream' });
    await expect(store.append(s, [ev('B')], { expectedVersion: 'no_stream' })).rejects.toMatchObject({ actual: 1 });
    await store.append(s, [ev('B')], { expectedVersion: 'exists' });
    await store.append(s, [ev('C')], { expectedVersion: 'any' });
    expect(await store.streamVersion(s)).toBe(3);
  });
  it.each([
    -1,
    1.5,
    Number.NaN,
    Infinity,
    2 ** 31,
    2 ** 53,
    '',
    ' 1',
    '1',
    'no-stream',
    'NO_STREAM',
    'Exists',
    null,
    {},
  ])('refuses the expected version %j with InvalidInput naming it, before writing anything', async (bad) => {
    const s = `s-${randomUUID()}`;
    await store.append(s, [ev('A')]);
    const err = await store.append(s, [ev('B')], { expectedVersion: bad as never }).catch((e) => e);
    expect(err).toMatchObject({ code: 'InvalidInput' });
    expect(err.message).toContain(`expectedVersion ${typeof bad === 'number' ? String(bad) : JSON.stringify(bad)}`);
    expect(await store.streamVersion(s)).toBe(1);
  });

  it('accepts the largest version a stream can hold (2^31 - 1) as a plain expected-version conflict', async () => {
    const s = `s-${randomUUID()}`;
    await expect(store.append(s, [ev('A')], { expectedVersion: 2 ** 31 - 1 })).rejects.toMatchObject({
      code: 'Concurrency',
      actual: 0,
    });
  });
});

describe('idempotency', () => {
  it('re-appending the same ids with the same content writes nothing new', async () => {
    const s = `s-${randomUUID()}`;
    const events = [
      { id: randomUUID(), ...ev('A', { n: 1 }) },
      { id: randomUUID(), ...ev('B', { n: 2 }) },
    ];
    const first = await store.append(s, events, { expectedVersion: 'no_stream' });
    const again = await store.append(s, events, { expectedVersion: 'no_stream' });
    expect(first.appended).toBe(true);
    expect(again.appended).toBe(false);
    expect(again.nextVersion).toBe(2);
    expect(await store.readStream(s)).toHaveLength(2);
  });

  it('a retry whose expected version has since moved still returns its events (not a conflict)', async () => {
    const s = `s-${randomUUID()}`;
    const events = [{ id: randomUUID(), ...ev('A', { n: 1 }) }];
    const first = await store.append(s, events, { expectedVersion: 0 });
    await store.append(s, [ev('B')], { expectedVersion: 1 });
    const again = await store.append(s, events, { expectedVersion: 0 });
    expect(again).toMatchObject({ appended: false, nextVersion: 1 });
    expect((await store.append(s, events, { expectedVersion: 'any' })).appended).toBe(false);
    expect(first.events[0]?.hash).toBeDefined();
    expect(await store.streamVersion(s)).toBe(2);
  });

  it('refuses a batch that mixes new ids with used ones, or names one id twice, and writes none of it', async () => {
    const s = `s-${randomUUID()}`;
    const used = { id: randomUUID(), ...ev('A', { n: 1 }) };
    await store.append(s, [used]);
    const head = await store.readStream(s);
    await expect(store.append(s, [{ id: randomUUID(), ...ev('B') }, used])).rejects.toMatchObject({
      code: 'InvalidInput',
      message: expect.stringContaining('already used for different content'),
    });
    const twice = randomUUID();
    await expect(
      store.append(s, [
        { id: twice, ...ev('C') },
        { id: twice, ...ev('C') },
      ]),
    ).rejects.toMatchObject({ code: 'InvalidInput' });
    expect(await store.readStream(s)).toEqual(head);
    expect(await store.streamVersion(s)).toBe(1);
    expect((await store.verifyChain(s)).ok).toBe(true);
  });

  it('refuses an id reused for other content', async () => {
    const s = `s-${randomUUID()}`;
    const id = randomUUID();
    await store.append(s, [{ id, ...ev('A', { n: 1 }) }]);
    await expect(store.append(s, [{ id, ...ev('A', { n: 2 }) }])).rejects.toThrow(/already used for different content/);
  });
});

describe('immutability', () => {
  it('refuses UPDATE, DELETE and TRUNCATE of events and backups', async () => {
    const s = `s-${randomUUID()}`;
    await store.append(s, [ev('A')]);
    await expect(store.db.query(sql`UPDATE cutter.events SET type = 'X' WHERE stream_id = ${s}`)).rejects.toThrow(
      /append-only/,
    );
    await expect(store.db.query(sql`DELETE FROM cutter.events WHERE stream_id = ${s}`)).rejects.toThrow(/append-only/);
    await expect(store.db.query(sql`TRUNCATE cutter.events`)).rejects.toThrow(/append-only/);
    await store.db.query(sql`INSERT INTO cutter.backups VALUES ('b1', 'c', 'r', 'h', 0, '{}', 'x')`);
    await expect(store.db.query(sql`DELETE FROM cutter.backups`)).rejects.toThrow(/append-only/);
    await expect(store.db.query(sql`TRUNCATE cutter.backups`)).rejects.toThrow(/append-only/);
  });
});

describe('hash chain', () => {
  it('verifies clean streams and names the first event a superuser edited with triggers disabled', async () => {
    const s = `s-${randomUUID()}`;
    await store.append(s, [ev('A', { amount: 1 }), ev('B', { amount: 2 }), ev('C', { amount: 3 })]);
    expect(await store.verifyChain(s)).toEqual({ ok: true, checked: 3 });
    const raw = connect(db.url, { poolSize: 1 });
    await raw.tx(async (tx) => {
      await tx.query(sql`SET LOCAL session_replication_role = replica`);
      await tx.query(sql`UPDATE cutter.events SET data = '{"amount": 200}' WHERE stream_id = ${s} AND version = 2`);
    });
    await raw.dispose();
    const report = await store.verifyChain(s);
    expect(report.ok).toBe(false);
    expect(report.firstBroken).toMatchObject({ streamId: s, version: 2, reason: expect.stringContaining('edited') });
    const all = await store.verifyChain();
    expect(all.ok).toBe(false);
  });
});

describe('the link computed in SQL', () => {
  it("stores, for every event of a batch and of single appends, the prev_hash and hash Node's linkHash gives", async () => {
    const s = `s-${randomUUID()}`;
    await store.append(s, [ev('A', { x: 1 }), ev('B', { y: [1, 'ü'] }), ev('C', null)], {
      expectedVersion: 'no_stream',
    });
    await store.append(s, [ev('D', { z: true })], { expectedVersion: 3 });
    const stored = await store.readStream(s);
    expect(stored.map((e) => e.version)).toEqual([1, 2, 3, 4]);
    let prev: string | null = null;
    for (const e of stored) {
      expect(e.prevHash).toBe(prev);
      expect(e.hash).toBe(linkHash(prev, s, e.version, eventDigest(e)));
      prev = e.hash;
    }
    // The digest the append computed (fast path) is the one the slow path gives for the event as read back.
    const digests = await store.db.query(sql`SELECT digest FROM cutter.events WHERE stream_id = ${s} ORDER BY version`);
    expect(digests.map((r) => r.digest)).toEqual(stored.map((e) => eventDigest(e)));
    const [head] = await store.db.query(sql`SELECT version, head_hash FROM cutter.streams WHERE stream_id = ${s}`);
    expect(head).toEqual({ version: 4, head_hash: prev });
  });
});

describe('metadata', () => {
  it('round-trips caller metadata and adds id, actor, correlation, causation, host, pid', async () => {
    const s = `s-${randomUUID()}`;
    const correlationId = randomUUID();
    await store.append(s, [{ type: 'A', data: { x: 'ü' }, metadata: { machineVersion: '1.0.0', schemaVersion: 2 } }], {
      context: { actor: 'erin', correlationId, causationId: 'cmd-1' },
    });
    const [e] = await store.readStream(s);
    expect(e?.data).toEqual({ x: 'ü' });
    expect(e?.metadata).toMatchObject({
      machineVersion: '1.0.0',
      schemaVersion: 2,
      actor: 'erin',
      correlationId,
      causationId: 'cmd-1',
      eventId: e?.eventId,
      pid: process.pid,
    });
    expect(e?.recordedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await store.readStream(s, { fromVersion: 2 })).toEqual([]);
  });
});
