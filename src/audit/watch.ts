/**
 * `cutter watch [cut]`: tails committed events from any machine — woken by NOTIFY, reading the
 * gapless global cursor — until the cut settles (completed, failed, halted, reverted…), a timeout,
 * or `signal` aborts (the CLI's SIGINT/SIGTERM), unsubscribing in every case.
 */
import { START, type Cursor, type EventStore, type StoredEvent } from '../store/index.js';
import { cutStreamId } from '../../events/streams.js';

const SETTLED = new Set([
  'LifecycleEnacted',
  'PhaseFailed',
  'VerifyFailed',
  'RunHalted',
  'CutReverted',
  'RevertFailed',
  'CutAborted',
  'DryRunCompleted',
]);

/**
 * Calls `onEvent` for each committed event (of one cut, or all) until the cut settles, the
 * timeout, or `signal` aborts; resolves with the count. Reads only.
 */
export async function watch(
  store: EventStore,
  opts: { cutId?: string; timeoutMs: number; onEvent: (e: StoredEvent) => void; from?: Cursor; signal?: AbortSignal },
): Promise<{ events: number; settled: boolean }> {
  // Watching from now: the streams' versions first, then the global tail. The gapless tail stops
  // below the oldest transaction open anywhere on the server, so events committed before the watch
  // began can surface later: each stream's versions read here are left out by version.
  const before = opts.from ? new Map<string, number>() : await versionsNow(store, opts.cutId);
  let cursor = opts.from ?? (await tail(store));
  let events = 0;
  let settled = false;
  let wake: () => void = () => undefined;
  const stop = await store.subscribe(() => wake());
  const deadline = Date.now() + opts.timeoutMs;
  try {
    while (!settled && Date.now() < deadline && !opts.signal?.aborted) {
      for (;;) {
        const page = await store.readAll({ after: cursor, limit: 500 });
        if (page.events.length === 0) break;
        cursor = page.next;
        for (const e of page.events) {
          if (opts.cutId && e.streamId !== cutStreamId(opts.cutId)) continue;
          if (e.version <= (before.get(e.streamId) ?? 0)) continue;
          events++;
          opts.onEvent(e);
          if (opts.cutId && SETTLED.has(e.type)) settled = true;
        }
      }
      if (settled) break;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(1000, Math.max(0, deadline - Date.now())));
        wake = done;
        opts.signal?.addEventListener('abort', done, { once: true });
      });
    }
  } finally {
    await stop();
  }
  return { events, settled };
}

async function tail(store: EventStore): Promise<Cursor> {
  let cursor = START;
  for (;;) {
    const page = await store.readAll({ after: cursor, limit: 5000 });
    if (page.events.length === 0) return cursor;
    cursor = page.next;
  }
}

/** Each stream's version now (one cut's stream, or every stream). */
async function versionsNow(store: EventStore, cutId: string | undefined): Promise<Map<string, number>> {
  if (cutId === undefined) return new Map((await store.listStreams()).map((s) => [s.streamId, s.version]));
  const streamId = cutStreamId(cutId);
  return new Map([[streamId, await store.streamVersion(streamId)]]);
}
