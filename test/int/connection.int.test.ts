/**
 * src/store/connection.ts assembles its pool from @databases/pg's parts (issue #18): the first
 * connection is attempted at once (no idle sleep before it), a server that is not up yet is still
 * retried for up to 2 s, and the pool behaves as @databases/pg's (bigints as strings, isolation
 * levels, rollback on error, a pool of the size asked for).
 */
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IsolationLevel, connect, sql } from '../../src/store/connection.js';
import { adminUrl } from '../support/db.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A free local port with nothing listening on it. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** A TCP relay on `port` to the run's PostgreSQL, counting the connections it accepts. */
async function relay(port: number): Promise<{ accepted: () => number; close: () => Promise<void> }> {
  const target = new URL(adminUrl());
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    accepted: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function urlOn(port: number): string {
  const u = new URL(adminUrl());
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

describe('connect', () => {
  it('makes the first connection at once: no timer runs before it (a sleep would never end here)', async () => {
    // Timers frozen: @databases/pg's createConnectionPool sleeps 100 ms on a timer before its first
    // attempt, so its first query would never settle (and this test would time out).
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const db = connect(adminUrl(), { poolSize: 1 });
    try {
      expect(await db.query(sql`SELECT 1 AS one`)).toEqual([{ one: 1 }]);
    } finally {
      vi.useRealTimers();
      await db.dispose();
    }
  }, 15_000);

  it('retries the first connection while the server is not up yet, then connects', async () => {
    const port = await freePort();
    const db = connect(urlOn(port), { poolSize: 1 });
    const started = Date.now();
    const answer = db.query(sql`SELECT 2 AS two`);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const r = await relay(port);
    try {
      expect(await answer).toEqual([{ two: 2 }]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
      expect(r.accepted()).toBe(1);
    } finally {
      await db.dispose();
      await r.close();
    }
  });

  it('gives up after about 2 s when nothing answers, with the connection error', async () => {
    const db = connect(urlOn(await freePort()), { poolSize: 1 });
    const started = Date.now();
    try {
      await expect(db.query(sql`SELECT 1`)).rejects.toThrow(/ECONNREFUSED/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    } finally {
      await db.dispose();
    }
  });

  it('behaves as @databases/pg: bigints as strings, isolation levels, rollback, the pool size', async () => {
    const db = connect(adminUrl(), { poolSize: 2, applicationName: 'cutter-conn-test' });
    try {
      expect(
        await db.query(sql`SELECT 9007199254740993::int8 AS n, current_setting('application_name') AS app`),
      ).toEqual([{ n: '9007199254740993', app: 'cutter-conn-test' }]);
      const level = await db.tx((tx) => tx.query(sql`SHOW transaction_isolation`), {
        isolationLevel: IsolationLevel.SERIALIZABLE,
      });
      expect(level).toEqual([{ transaction_isolation: 'serializable' }]);
      const probe = `conn_rollback_${process.pid}_${Date.now()}`;
      await expect(
        db.tx(async (tx) => {
          await tx.query(sql`CREATE TABLE ${sql.ident(probe)} (x int)`);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await db.query(sql`SELECT to_regclass(${probe}) AS t`)).toEqual([{ t: null }]);
      const pids = await Promise.all(
        [1, 2, 3, 4].map(() =>
          db.tx(async (tx) => {
            const [row] = await tx.query(sql`SELECT pg_backend_pid() AS pid, pg_sleep(0.05)`);
            return (row as { pid: number }).pid;
          }),
        ),
      );
      expect(new Set(pids).size).toBe(2);
      await expect(db.query(sql`SELECT * FROM no_such_table_here`)).rejects.toMatchObject({ code: '42P01' });
    } finally {
      await db.dispose();
    }
    await expect(db.query(sql`SELECT 1`)).rejects.toThrow(/disposed/);
  });
});
