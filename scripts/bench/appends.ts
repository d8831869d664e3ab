/**
 * Store throughput beside raw SQL on the same server in the same run: single-event appends with an
 * expected version from 4 concurrent writers, 100-event batches, and stream reads — each against
 * plain INSERTs/SELECTs of the same rows into a bare table with the same columns.
 */
import { randomUUID } from 'node:crypto';
import { connect, sql } from '../../src/store/connection.js';
import { openStore } from '../../src/store/index.js';
import { medianOf, throughputRow, type BenchRow } from './measure.js';

const payload = (i: number) => ({ type: 'Tick', data: { i, note: 'benchmark event', at: '2026-11-25T00:00:00.000Z' } });

export async function benchAppends(url: string, opts: { quick: boolean }): Promise<BenchRow[]> {
  const store = await openStore(url, { poolSize: 8 });
  const raw = connect(url, { poolSize: 8 });
  await raw.query(sql`DROP TABLE IF EXISTS bench_floor`);
  await raw.query(sql`CREATE TABLE bench_floor (global_position bigint GENERATED ALWAYS AS IDENTITY, transaction_id xid8 DEFAULT pg_current_xact_id(),
    stream_id text, version int, event_id uuid, type text, data jsonb, metadata jsonb, recorded_at timestamptz, digest text, prev_hash text, hash text)`);
  const perWriter = opts.quick ? 400 : 2000;
  const runs = opts.quick ? 3 : 5;

  const single = await medianOf(runs, async () => {
    const t = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        const s = `bench-single-${randomUUID()}-${w}`;
        for (let v = 0; v < perWriter; v++) await store.append(s, [payload(v)], { expectedVersion: v });
      }),
    );
    return (4 * perWriter) / ((performance.now() - t) / 1000);
  });
  const singleFloor = await medianOf(runs, async () => {
    const t = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        const s = `floor-${randomUUID()}-${w}`;
        for (let v = 0; v < perWriter; v++) {
          await raw.query(sql`INSERT INTO bench_floor (stream_id, version, event_id, type, data, metadata, recorded_at, digest, hash)
          VALUES (${s}, ${v + 1}, ${randomUUID()}, 'Tick', ${JSON.stringify(payload(v).data)}::jsonb, '{}'::jsonb, now(), 'd', 'h')`);
        }
      }),
    );
    return (4 * perWriter) / ((performance.now() - t) / 1000);
  });

  const batches = opts.quick ? 40 : 200;
  const batch = Array.from({ length: 100 }, (_, i) => payload(i));
  const batched = await medianOf(runs, async () => {
    const t = performance.now();
    for (let b = 0; b < batches; b++)
      await store.append(`bench-batch-${randomUUID()}`, batch, { expectedVersion: 'no_stream' });
    return (batches * 100) / ((performance.now() - t) / 1000);
  });
  const batchedFloor = await medianOf(runs, async () => {
    const t = performance.now();
    for (let b = 0; b < batches; b++) {
      const s = `floor-batch-${randomUUID()}`;
      await raw.query(sql`INSERT INTO bench_floor (stream_id, version, event_id, type, data, metadata, recorded_at, digest, hash)
        SELECT ${s}, v, gen_random_uuid(), 'Tick', d, '{}'::jsonb, now(), 'd', 'h' FROM unnest(${batch.map((_, i) => i + 1)}::int[], ${batch.map((p) => JSON.stringify(p.data))}::jsonb[]) AS x(v, d)`);
    }
    return (batches * 100) / ((performance.now() - t) / 1000);
  });

  const readStreamId = `bench-read-${randomUUID()}`;
  for (let b = 0; b < 10; b++) await store.append(readStreamId, batch);
  const reads = await medianOf(runs, async () => {
    const t = performance.now();
    for (let i = 0; i < 20; i++) await store.readStream(readStreamId);
    return (20 * 1000) / ((performance.now() - t) / 1000);
  });
  const readsFloor = await medianOf(runs, async () => {
    const t = performance.now();
    for (let i = 0; i < 20; i++)
      await raw.query(sql`SELECT * FROM cutter.events WHERE stream_id = ${readStreamId} ORDER BY version`);
    return (20 * 1000) / ((performance.now() - t) / 1000);
  });
  await raw.query(sql`DROP TABLE bench_floor`);
  await raw.dispose();
  await store.close();
  return [
    throughputRow(
      'append: 1 event, expected version, 4 writers',
      single,
      singleFloor,
      'events/s',
      'floor: plain INSERT per event; goal ≥ 0.8×',
    ),
    throughputRow(
      'append: 100-event batches',
      batched,
      batchedFloor,
      'events/s',
      'floor: one multi-row INSERT; goal ≥ 0.8×',
    ),
    throughputRow(
      'readStream (1,000-event stream)',
      reads,
      readsFloor,
      'events/s',
      'floor: plain SELECT of the same rows',
    ),
  ];
}
