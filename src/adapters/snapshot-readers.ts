/**
 * Read-only phases on two connections. The machine a cut runs on may have more than one core, but
 * a phase that reads (the backup, verify) keeps only one backend busy: each batch's statement runs
 * on the phase's connection while the runner mostly waits. Here a second connection reads in the
 * very snapshot of the phase transaction (`pg_export_snapshot()` there, `SET TRANSACTION SNAPSHOT`
 * in a REPEATABLE READ READ ONLY transaction here), so both see one consistent state, and the
 * batches are shared out between the two — while their results are used strictly in plan order,
 * so every digest, plaintext and sample is what one connection reading batch after batch gives
 * (and gives still, when no second connection can be had).
 */
import { IsolationLevel, sql, type ConnectionPool, type Queryable, type Transaction } from '../store/connection.js';

/** What `pg_export_snapshot()` returns (hex words and a sequence number joined by dashes). */
const SNAPSHOT_ID = /^[0-9A-F]+(-[0-9A-F]+)+$/i;

/** How long a phase waits for its second connection before it reads on its own connection alone. */
export const READER_WAIT_MS = 1_000;

/**
 * Runs `fn` with `[tx, reader]`: the phase's transaction and a second connection of `db` whose
 * REPEATABLE READ READ ONLY transaction imports `tx`'s snapshot. `tx` must be a REPEATABLE READ
 * (or SERIALIZABLE) transaction that stays open until `fn` settles (it does: this is awaited
 * inside it). The reader's transaction writes nothing and ends when `fn` settles.
 *
 * When no second connection is ready within `waitMs` (the server or the role is at its connection
 * limit — the pool then waits for a connection to come free, which this phase's own would only do
 * at its end — or the snapshot cannot be imported), `fn` runs with `[tx]` alone: the same work, one
 * batch after another, with the same results. A reader that opens later finds itself abandoned and
 * ends at once, without touching the snapshot.
 */
export async function withSnapshotReader<T>(
  db: ConnectionPool,
  tx: Transaction,
  fn: (conns: readonly Queryable[]) => Promise<T>,
  waitMs = READER_WAIT_MS,
): Promise<T> {
  const [row] = await tx.query(sql`SELECT pg_export_snapshot() AS id`);
  const id = String(row?.id);
  if (!SNAPSHOT_ID.test(id)) throw new Error(`pg_export_snapshot() returned an unexpected id: ${id}`);
  let offer!: (reader: Queryable | undefined) => void;
  const offered = new Promise<Queryable | undefined>((resolve) => (offer = resolve));
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let abandoned = false;
  const reading = db.tx(
    async (reader) => {
      if (abandoned) return;
      // A utility statement takes no parameters; the id was checked to be hex words and dashes.
      await reader.query(sql`SET TRANSACTION SNAPSHOT ${sql.__dangerous__rawValue(`'${id}'`)}`);
      offer(reader);
      // Open until `fn` is done with it.
      await finished;
    },
    { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true },
  );
  reading.catch(() => offer(undefined));
  const timer = setTimeout(() => offer(undefined), waitMs);
  const reader = await offered;
  clearTimeout(timer);
  abandoned = reader === undefined;
  try {
    return await fn(reader ? [tx, reader] : [tx]);
  } finally {
    finish();
    // Its reads were awaited by `fn` (a failed one failed `fn`); how its read-only transaction
    // ends changes none of them. An abandoned one may still be queued for a connection.
    if (reader) await reading.catch(() => undefined);
  }
}

/**
 * `work` for each batch on the connections in turn (batch i on `conns[i % n]`, so each connection
 * runs one statement at a time and all of them run at once), and `use` for each result strictly
 * in batch order, one at a time; at most one batch per connection is in flight. The outcome is
 * that of working and using each batch in turn on one connection: the same uses in the same order,
 * and the same error — the first in batch order, a source's error after the batches before it were
 * used. Every statement in flight settles before an error is rethrown, so none outlives the
 * transaction it runs in.
 */
export async function inPlanOrder<B, R>(
  batches: AsyncIterable<B>,
  conns: readonly Queryable[],
  work: (q: Queryable, batch: B) => Promise<R>,
  use: (result: R, batch: B) => void | Promise<void>,
): Promise<void> {
  const inFlight: { result: Promise<R>; batch: B }[] = [];
  const useOldest = async () => {
    const { result, batch } = inFlight.shift()!;
    await use(await result, batch);
  };
  let i = 0;
  try {
    for await (const next of settled(batches)) {
      if ('error' in next) {
        while (inFlight.length) await useOldest();
        throw next.error;
      }
      const result = work(conns[i++ % conns.length]!, next.batch);
      // Handled now: a failure surfaces when its turn to be used comes (or in the finally below).
      result.catch(() => undefined);
      inFlight.push({ result, batch: next.batch });
      if (inFlight.length === conns.length) await useOldest();
    }
    while (inFlight.length) await useOldest();
  } finally {
    await Promise.all(inFlight.map((f) => f.result.catch(() => undefined)));
  }
}

/** The batches, then the source's error (if any) as a last item instead of a rejection. */
async function* settled<B>(batches: AsyncIterable<B>): AsyncGenerator<{ batch: B } | { error: unknown }> {
  try {
    for await (const batch of batches) yield { batch };
  } catch (error) {
    yield { error };
  }
}
