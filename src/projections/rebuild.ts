/**
 * `projections rebuild`: truncates every projection and refolds the cut read models from the log,
 * each stream exactly as the inline projection folds it (`projectCut`), so the rows and target
 * claims equal what the inline projection maintained (test/int/projections.rebuild.int.test.ts).
 *
 * Where the time goes and what is done about it (docs/BENCHMARKS.md): the log is read through one
 * server-side cursor in pages, two pages requested ahead of the one being folded; the Ed25519
 * checks of a page's approvals run on worker threads (src/crypto/verify-pool.ts) while the previous
 * page folds, and the fold is handed those verdicts (`withApprovalVerdicts`), each of
 * which is the same check of the same inputs the machine's guard would make; the rows of a batch of
 * streams are written with one statement while the next batch folds.
 */
import { withApprovalVerdicts } from '../../machines/approvals.js';
import { CUT_STREAM_PREFIX } from '../../events/streams.js';
import { approvalJobs, defaultVerifyThreads, VerifyPool } from '../crypto/verify-pool.js';
import { GovernanceRefusedError } from '../errors.js';
import { sql, type Queryable } from '../store/connection.js';
import { holdsTarget, projectCut } from './cuts.js';
import type { ProjectionEvent } from './projection.js';

/** Streams folded per written batch, and events per cursor fetch, in `rebuildProjections`. */
export const REBUILD_BATCH_STREAMS = 1000;
export const REBUILD_FETCH_EVENTS = 10_000;

/** Below this many approvals on a page they are verified inline by the fold: a worker round trip costs more. */
const MIN_PARALLEL = 64;

export interface RebuildOptions {
  /** Streams per written batch (default `REBUILD_BATCH_STREAMS`). */
  batchStreams?: number;
  /** Events per cursor fetch (default `REBUILD_FETCH_EVENTS`). */
  fetchEvents?: number;
  /**
   * Worker threads verifying approval signatures ahead of the fold; 0 verifies them in the fold
   * itself, one at a time (the slow, obvious path). Default: one fewer than the cores (at least 1),
   * or `CUTTER_VERIFY_THREADS` when set.
   */
  verifyThreads?: number;
}

export interface RebuildResult {
  /** Cut streams folded. */
  streams: number;
  /** Events read (those of cut streams). */
  events: number;
  /** Distinct approval signatures verified on worker threads ahead of the fold (0 on the slow path). */
  verifiedAhead: number;
}

type RowRecord = { projection: string; row_key: string; stream_id: string; row: Record<string, unknown> };
type Claim = { target: string; cut_id: string; run_id: string };
type Verdicts = { get(key: string): boolean | undefined };
const NONE: Verdicts = new Map<string, boolean>();

/**
 * Truncates and refolds every projection from the log, in one transaction. The cut streams' events
 * are read through a cursor ordered by stream and version; each stream is folded by `projectCut`;
 * the rows of each batch of streams are written with one `INSERT … SELECT FROM jsonb_array_elements`
 * (plus one for the targets held). A target claimed by two cuts refuses the rebuild with the error
 * the inline projection raises. Async projections restart from the beginning of the log. The rows
 * are the same whatever the options (page and batch sizes, threads).
 */
export async function rebuildProjections(
  db: Queryable & { tx: any },
  opts: RebuildOptions = {},
): Promise<RebuildResult> {
  const batchStreams = opts.batchStreams ?? REBUILD_BATCH_STREAMS;
  const fetchEvents = Math.max(1, Math.trunc(opts.fetchEvents ?? REBUILD_FETCH_EVENTS));
  const threads = opts.verifyThreads ?? rebuildVerifyThreads();
  // Started on the first page with enough approvals to be worth it (a small store never pays for workers).
  const workers: { pool?: VerifyPool } = {};
  try {
    return await db.tx(async (tx: Queryable) => {
      await resetProjections(tx);
      await openRebuildCursor(tx);
      const pages = pageReader(tx, fetchEvents, threads, workers);
      const out = projectionWriter(tx);
      let events = 0;
      // Events of the last stream of a page, which may continue on the next page, and the verdicts
      // of the page they came from.
      let carry: ProjectionEvent[] = [];
      let carryVerdicts: Verdicts = NONE;
      // Two fetches stay ahead of the fold (a fetch past the end returns no rows). Before a page is
      // folded the next one has arrived, so its approvals are on the workers while this one folds.
      const ahead = [pages.fetch(), pages.fetch()];
      for (;;) {
        const got = await out.settle(ahead.shift()!);
        const done = got.rows.length < fetchEvents;
        if (!done) {
          ahead.push(pages.fetch());
          if (threads >= 1) await out.settle(ahead[0]!);
        }
        const verdicts = await out.settle(got.verdicts);
        const known: Verdicts =
          carryVerdicts === NONE ? verdicts : { get: (k) => verdicts.get(k) ?? carryVerdicts.get(k) };
        events += got.rows.length;
        const page = carry.concat(got.rows.map(toProjectionEvent));
        // Fold every stream complete on this page; keep the last one unless the log is exhausted.
        let end = page.length;
        if (!done && end > 0) while (end > 0 && page[end - 1]!.streamId === page[page.length - 1]!.streamId) end--;
        for (let i = 0; i < end;) {
          const streamId = page[i]!.streamId;
          let j = i + 1;
          while (j < end && page[j]!.streamId === streamId) j++;
          withApprovalVerdicts(known, () => out.fold(streamId, page.slice(i, j)));
          i = j;
          if (out.batched() >= batchStreams) await out.flush();
        }
        carry = page.slice(end);
        carryVerdicts = verdicts;
        if (done) break;
      }
      await out.flush();
      await out.written();
      await Promise.all(ahead);
      await tx.query(sql`CLOSE cutter_rebuild`);
      return { streams: out.streams(), events, verifiedAhead: pages.verifiedAhead() };
    });
  } finally {
    await workers.pool?.close();
  }
}

/** The main thread folds, so by default one core fewer verifies (CUTTER_VERIFY_THREADS sets it exactly). */
function rebuildVerifyThreads(): number {
  return process.env.CUTTER_VERIFY_THREADS ? defaultVerifyThreads() : Math.max(1, defaultVerifyThreads() - 1);
}

/** Empties the cut projections and target claims, and restarts the async projections from the beginning of the log. */
async function resetProjections(tx: Queryable): Promise<void> {
  await tx.query(sql`DELETE FROM cutter.projection_rows WHERE projection IN ('cuts', 'runs')`);
  await tx.query(sql`DELETE FROM cutter.active_target_runs`);
  // Async projections restart from the beginning of the log: their followers refold on next catch-up.
  await tx.query(
    sql`DELETE FROM cutter.projection_rows WHERE projection IN (SELECT projector FROM cutter.checkpoints)`,
  );
  await tx.query(sql`DELETE FROM cutter.checkpoints`);
}

/** Declares `cutter_rebuild`: the cut streams' events ordered by stream and version. */
async function openRebuildCursor(tx: Queryable): Promise<void> {
  // Planned as an ordered scan of the (stream_id, version) index, so rows stream from the first
  // FETCH instead of after a sort of the whole log (which spills to disk on a large one).
  const [{ sort }] = await tx.query(
    sql`SELECT current_setting('enable_sort') AS sort, set_config('enable_sort', 'off', true)`,
  );
  await tx.query(sql`
    DECLARE cutter_rebuild NO SCROLL CURSOR FOR
    SELECT stream_id, version, type, data, metadata, recorded_at, global_position FROM cutter.events
    WHERE stream_id LIKE ${CUT_STREAM_PREFIX + '%'} ORDER BY stream_id, version`);
  await tx.query(sql`SELECT set_config('enable_sort', ${String(sort)}, true)`);
}

/**
 * Pages of the `cutter_rebuild` cursor, each with the verdicts of its approvals. A page's approvals
 * go to the workers (started in `workers` on first need) as soon as the page arrives (the `then`
 * runs whenever the main thread is idle, e.g. while it waits for the previous page's verdicts).
 */
function pageReader(tx: Queryable, fetchEvents: number, threads: number, workers: { pool?: VerifyPool }) {
  let verifiedAhead = 0;
  const verify = (rows: any[]): Promise<Verdicts> => {
    const jobs = approvalJobs(rows);
    if (threads < 1 || jobs.length < MIN_PARALLEL) return Promise.resolve(NONE);
    workers.pool ??= new VerifyPool(threads);
    verifiedAhead += jobs.length;
    return workers.pool.verify(jobs).then((oks) => new Map(jobs.map((j, i) => [j.verdictKey, oks[i]!] as const)));
  };
  const fetch = () => {
    const page = tx
      .query(sql`FETCH ${sql.__dangerous__rawValue(String(fetchEvents))} FROM cutter_rebuild`)
      .then((rows) => ({ rows, verdicts: verify(rows) }));
    page.catch(() => undefined); // awaited by the caller; a failure surfaces there
    page.then((p) => p.verdicts.catch(() => undefined)).catch(() => undefined);
    return page;
  };
  return { fetch, verifiedAhead: () => verifiedAhead };
}

/**
 * Folds streams into projection rows and target claims and writes them in batches: a batch is
 * written while the next one is folded; at most one write is in flight.
 */
function projectionWriter(tx: Queryable) {
  let streams = 0;
  let rows: RowRecord[] = [];
  let claims: Claim[] = [];
  let batched = 0;
  const fold = (streamId: string, evs: ProjectionEvent[]) => {
    const { cut, runs } = projectCut(streamId, evs);
    rows.push({ projection: 'cuts', row_key: cut.key, stream_id: streamId, row: cut.row });
    for (const r of runs) rows.push({ projection: 'runs', row_key: r.key, stream_id: streamId, row: r.row });
    if (holdsTarget(String(cut.row.state)))
      claims.push({ target: String(cut.row.target), cut_id: cut.key, run_id: String(cut.row.runId) });
    streams++;
    batched++;
  };
  let writing: Promise<void> = Promise.resolve();
  const flush = async () => {
    const [r, c] = [rows, claims];
    rows = [];
    claims = [];
    batched = 0;
    await writing;
    writing = (async () => {
      if (r.length) await writeRows(tx, r);
      if (c.length) await claimTargets(tx, c);
    })();
    writing.catch(() => undefined); // awaited at the next flush or at the end
  };
  // A failed write aborts the transaction, so a later query fails too: report the write's error.
  const settle = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      await writing;
      throw err;
    }
  };
  return { fold, flush, settle, written: () => writing, batched: () => batched, streams: () => streams };
}

function toProjectionEvent(r: any): ProjectionEvent {
  return {
    streamId: r.stream_id,
    version: r.version,
    type: r.type,
    data: r.data,
    metadata: r.metadata,
    recordedAt: (r.recorded_at as Date).toISOString(),
    globalPosition: String(r.global_position),
  };
}

/**
 * One statement for a batch of projection rows (`jsonb_array_elements` parses the batch once; faster
 * than `jsonb_to_recordset` here).
 */
async function writeRows(q: Queryable, rows: RowRecord[]): Promise<void> {
  await q.query(sql`
    INSERT INTO cutter.projection_rows (projection, row_key, stream_id, row)
    SELECT x->>'projection', x->>'row_key', x->>'stream_id', x->'row'
    FROM jsonb_array_elements(${JSON.stringify(rows)}::jsonb) AS x`);
}

/** Claims the targets a batch of cuts hold; refuses (as the inline projection does) when one is held by another cut. */
async function claimTargets(q: Queryable, claims: Claim[]): Promise<void> {
  const json = JSON.stringify(claims);
  await q.query(sql`
    INSERT INTO cutter.active_target_runs (target, cut_id, run_id)
    SELECT target, cut_id, run_id FROM jsonb_to_recordset(${json}::jsonb) AS x(target text, cut_id text, run_id text)
    ON CONFLICT (target) DO NOTHING`);
  const [busy] = await q.query(sql`
    SELECT x.target, a.cut_id FROM ROWS FROM (jsonb_to_recordset(${json}::jsonb) AS (target text, cut_id text))
    WITH ORDINALITY AS x(target, cut_id, n)
    JOIN cutter.active_target_runs a ON a.target = x.target
    WHERE a.cut_id <> x.cut_id ORDER BY x.n LIMIT 1`);
  if (busy)
    throw new GovernanceRefusedError(`target busy with cut ${busy.cut_id}`, [
      `target ${busy.target} is busy with cut ${busy.cut_id}`,
    ]);
}
