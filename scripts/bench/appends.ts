/**
 * Store throughput beside raw SQL on the same server in the same run: single-event appends with an
 * expected version from 4 concurrent writers, 100-event batches, and stream reads — each against
 * plain INSERTs/SELECTs of the same rows into a bare table with the same columns. Where Emmett's
 * PostgreSQL event store is installed (a scratch folder, never a dependency of cutter: see
 * `loadEmmett`), the same appends through it are a second reference. The store, the floor and
 * Emmett take turns within each repetition, so a change in the machine's load hits all three alike.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect, sql } from '../../src/store/connection.js';
import { openStore } from '../../src/store/index.js';
import { median, throughputRow, type BenchRow } from './measure.js';

const payload = (i: number) => ({ type: 'Tick', data: { i, note: 'benchmark event', at: '2026-11-25T00:00:00.000Z' } });

/** The part of Emmett's PostgreSQL event store the bench drives. */
interface EmmettStore {
  appendToStream(
    stream: string,
    events: { type: string; data: unknown }[],
    options?: { expectedStreamVersion?: bigint },
  ): Promise<{ nextExpectedStreamVersion: bigint }>;
  close(): Promise<void>;
}

/** Where to look for `@event-driven-io/emmett-postgresql`: a folder holding its node_modules. */
export const EMMETT_DIR = process.env.CUTTER_BENCH_EMMETT ?? '/tmp/emmett-bench';

/**
 * Emmett's PostgreSQL event store from `dir` (installed there with `npm install --prefix <dir>
 * @event-driven-io/emmett-postgresql@0.42.0`), or why not: the bench then prints "not installed".
 */
export async function loadEmmett(
  dir: string,
): Promise<{ version: string; open(url: string): EmmettStore } | { missing: string }> {
  const manifest = path.join(dir, 'package.json');
  if (!existsSync(manifest)) return { missing: `no ${manifest}` };
  const require = createRequire(manifest);
  try {
    const entry = require.resolve('@event-driven-io/emmett-postgresql');
    const pkg = path.join(dir, 'node_modules', '@event-driven-io', 'emmett-postgresql', 'package.json');
    const { version } = JSON.parse(readFileSync(pkg, 'utf8')) as { version: string };
    const mod = (await import(pathToFileURL(entry).href)) as {
      getPostgreSQLEventStore(url: string): EmmettStore;
    };
    return { version, open: (url) => mod.getPostgreSQLEventStore(url) };
  } catch (err) {
    return { missing: (err as Error).message.split('\n')[0] ?? 'cannot load' };
  }
}

export async function benchAppends(url: string, opts: { quick: boolean }): Promise<BenchRow[]> {
  const store = await openStore(url, { poolSize: 8 });
  const raw = connect(url, { poolSize: 8 });
  const emmettModule = await loadEmmett(EMMETT_DIR);
  const emmett = 'open' in emmettModule ? emmettModule.open(url) : undefined;
  if ('missing' in emmettModule)
    console.log(`    Emmett-PG: not installed in ${EMMETT_DIR} (${emmettModule.missing}); set CUTTER_BENCH_EMMETT`);
  await raw.query(sql`DROP TABLE IF EXISTS bench_floor`);
  await raw.query(sql`CREATE TABLE bench_floor (global_position bigint GENERATED ALWAYS AS IDENTITY,
    transaction_id xid8 DEFAULT pg_current_xact_id(),
    stream_id text, version int, event_id uuid, type text, data jsonb, metadata jsonb, recorded_at timestamptz,
    digest text, prev_hash text, hash text)`);
  const perWriter = opts.quick ? 400 : 2000;
  const runs = opts.quick ? 3 : 5;
  const batches = opts.quick ? 40 : 200;
  const batch = Array.from({ length: 100 }, (_, i) => payload(i));

  /** Events per second of 4 writers, each appending `perWriter` single events to its own stream. */
  const fourWriters = async (append: (stream: string, v: number) => Promise<unknown>, prefix: string) => {
    const t = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        const s = `${prefix}-${randomUUID()}-${w}`;
        for (let v = 0; v < perWriter; v++) await append(s, v);
      }),
    );
    return (4 * perWriter) / ((performance.now() - t) / 1000);
  };
  /** Events per second of `batches` 100-event appends, each to a new stream. */
  const batched = async (append: (stream: string) => Promise<unknown>, prefix: string) => {
    const t = performance.now();
    for (let b = 0; b < batches; b++) await append(`${prefix}-${randomUUID()}`);
    return (batches * 100) / ((performance.now() - t) / 1000);
  };

  const single = { store: [] as number[], floor: [] as number[], emmett: [] as number[] };
  const many = { store: [] as number[], floor: [] as number[], emmett: [] as number[] };
  if (emmett) await emmett.appendToStream(`bench-emmett-warm-${randomUUID()}`, [payload(0)]); // creates its schema
  for (let r = 0; r < runs; r++) {
    single.store.push(
      await fourWriters((s, v) => store.append(s, [payload(v)], { expectedVersion: v }), 'bench-single'),
    );
    single.floor.push(
      await fourWriters(
        (s, v) =>
          raw.query(sql`INSERT INTO bench_floor (stream_id, version, event_id, type, data, metadata, recorded_at,
            digest, hash)
          VALUES (${s}, ${v + 1}, ${randomUUID()}, 'Tick', ${JSON.stringify(payload(v).data)}::jsonb, '{}'::jsonb,
          now(), 'd', 'h')`),
        'floor',
      ),
    );
    if (emmett)
      single.emmett.push(
        await fourWriters(
          (s, v) => emmett.appendToStream(s, [payload(v)], { expectedStreamVersion: BigInt(v) }),
          'bench-emmett',
        ),
      );
  }
  for (let r = 0; r < runs; r++) {
    many.store.push(await batched((s) => store.append(s, batch, { expectedVersion: 'no_stream' }), 'bench-batch'));
    many.floor.push(
      await batched(
        (s) =>
          raw.query(sql`INSERT INTO bench_floor (stream_id, version, event_id, type, data, metadata, recorded_at,
            digest, hash)
        SELECT ${s}, v, gen_random_uuid(), 'Tick', d, '{}'::jsonb, now(), 'd', 'h'
        FROM unnest(${batch.map((_, i) => i + 1)}::int[], ${batch.map((p) => JSON.stringify(p.data))}::jsonb[])
        AS x(v, d)`),
        'floor-batch',
      ),
    );
    if (emmett)
      many.emmett.push(
        await batched((s) => emmett.appendToStream(s, batch, { expectedStreamVersion: 0n }), 'bench-emmett-batch'),
      );
  }

  const readStreamId = `bench-read-${randomUUID()}`;
  for (let b = 0; b < 10; b++) await store.append(readStreamId, batch);
  const reads: number[] = [];
  const readsFloor: number[] = [];
  for (let r = 0; r < runs; r++) {
    let t = performance.now();
    for (let i = 0; i < 20; i++) await store.readStream(readStreamId);
    reads.push((20 * 1000) / ((performance.now() - t) / 1000));
    t = performance.now();
    for (let i = 0; i < 20; i++)
      await raw.query(sql`SELECT * FROM cutter.events WHERE stream_id = ${readStreamId} ORDER BY version`);
    readsFloor.push((20 * 1000) / ((performance.now() - t) / 1000));
  }
  await raw.query(sql`DROP TABLE bench_floor`);
  await raw.dispose();
  await store.close();
  await emmett?.close();
  const emmettName = 'version' in emmettModule ? `Emmett-PG ${emmettModule.version}` : 'Emmett-PG';
  return [
    throughputRow(
      'append: 1 event, expected version, 4 writers',
      median(single.store),
      median(single.floor),
      'events/s',
      'floor: plain INSERT per event; goal ≥ 0.8×',
    ),
    ...(emmett
      ? [
          throughputRow(
            `append: 1 event, 4 writers, vs ${emmettName}`,
            median(single.store),
            median(single.emmett),
            'events/s',
            `reference: ${emmettName} appendToStream with expected version, same writers; goal ≥ 1.5×`,
          ),
        ]
      : []),
    throughputRow(
      'append: 100-event batches',
      median(many.store),
      median(many.floor),
      'events/s',
      'floor: one multi-row INSERT; goal ≥ 0.8×',
    ),
    ...(emmett
      ? [
          throughputRow(
            `append: 100-event batches, vs ${emmettName}`,
            median(many.store),
            median(many.emmett),
            'events/s',
            `reference: ${emmettName} appendToStream of the same 100 events to a new stream`,
          ),
        ]
      : []),
    throughputRow(
      'readStream (1,000-event stream)',
      median(reads),
      median(readsFloor),
      'events/s',
      'floor: plain SELECT of the same rows',
    ),
  ];
}
