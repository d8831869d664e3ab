/**
 * Bench plumbing shared by every section: a row format (figure beside its floor), medians of
 * repeated runs, and the table printer. Figures are measured, never asserted in tests.
 */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  floor: number;
  ratio: number;
  note?: string;
}

/** Median of the numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** Runs `fn` `times` times and returns the median of what it returns. */
export async function medianOf(times: number, fn: () => Promise<number>): Promise<number> {
  const results: number[] = [];
  for (let i = 0; i < times; i++) results.push(await fn());
  return median(results);
}

/** Milliseconds `fn` takes. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** A row where higher is better (throughput): ratio = value / floor. */
export function throughputRow(name: string, value: number, floor: number, unit = 'events/s', note?: string): BenchRow {
  return { name, value, unit, floor, ratio: floor > 0 ? value / floor : 0, ...(note ? { note } : {}) };
}

/** A row where lower is better (time): ratio = value / floor (how many times the floor). */
export function timeRow(name: string, value: number, floor: number, unit = 'ms', note?: string): BenchRow {
  return { name, value, unit, floor, ratio: floor > 0 ? value / floor : 0, ...(note ? { note } : {}) };
}

export function formatRows(rows: BenchRow[]): string {
  const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));
  const header = ['figure', 'value', 'floor (raw SQL / reference)', 'ratio', 'note'];
  const body = rows.map((r) => [
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    `${fmt(r.floor)} ${r.unit}`,
    `${r.ratio.toFixed(2)}×`,
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line)].join('\n');
}
