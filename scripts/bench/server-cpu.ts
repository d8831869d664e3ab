/**
 * The server's CPU beside the bench's own: every backend of the bench's databases, read from
 * `/proc` when PostgreSQL runs on this machine (the live cut's phases, the whole replay).
 */
import { readFileSync } from 'node:fs';
import { sql, type ConnectionPool } from '../../src/store/connection.js';

/**
 * The CPU time of every backend connected to `databases` since `start`, from
 * `/proc/<pid>/schedstat` (nanoseconds on a CPU): a backend connected at `start` counts from then,
 * one connected later from its beginning. The backends are listed at `start` and at each `list`
 * (the phase boundaries: one small query each) and their /proc entries read every 20 ms, so a
 * backend that exits between reads loses at most 20 ms of its time; `read` sends no query. It
 * gives undefined when no backend could be read here (the server is elsewhere, or its /proc
 * entries are not readable).
 */
export function serverCpu(admin: ConnectionPool, databases: string[]) {
  const seen = new Map<number, { first: number; last: number }>();
  let timer: NodeJS.Timeout | undefined;
  // A server elsewhere has its own pids: a local process of the same pid must not be counted.
  const isPostgres = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
    } catch {
      return false;
    }
  };
  const onCpuMs = (pid: number) => {
    try {
      return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    } catch {
      return undefined;
    }
  };
  const list = async (atStart = false) => {
    const rows = await admin.query(
      sql`SELECT pid FROM pg_stat_activity WHERE datname = ANY (${databases}) AND pid <> pg_backend_pid()`,
    );
    for (const { pid } of rows as { pid: number }[]) {
      if (seen.has(pid) || !isPostgres(pid)) continue;
      const ms = onCpuMs(pid);
      if (ms !== undefined) seen.set(pid, { first: atStart ? ms : 0, last: ms });
    }
  };
  const sample = () => {
    for (const [pid, s] of seen) {
      const ms = onCpuMs(pid);
      if (ms !== undefined) s.last = ms;
    }
  };
  return {
    async start() {
      await list(true);
      timer = setInterval(sample, 20);
    },
    list: () => list(),
    read(): number | undefined {
      sample();
      return seen.size ? [...seen.values()].reduce((n, s) => n + s.last - s.first, 0) : undefined;
    },
    stop() {
      clearInterval(timer);
    },
  };
}
