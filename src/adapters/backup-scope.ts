/**
 * Whether a backup stays inside what its plan named, key by key in plan order: revert restores
 * only the plan's keys. Pure (the adapter feeds it keys as they stream).
 */
/** Canonical text of a key given as JSON text (jsonb's and JSON.stringify's spellings compare equal). */
export const canonicalKey = (json: string): string => {
  try {
    return JSON.stringify(sortKeys(JSON.parse(json)));
  } catch {
    return json;
  }
};

function sortKeys(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  return Object.fromEntries(
    Object.keys(v as object)
      .sort()
      .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
  );
}

/**
 * Walks a backup's keys against the plan's keys, in plan order (a backup is written in plan
 * order, one entry per planned change). Feed the plan's keys ahead of the backup's as both stream
 * (`pending` says how many are queued); `check` returns the refusal naming the first entry the
 * plan does not name there. Memory: one batch of keys. Pure.
 */
export class BackupScope {
  private planned: string[] = [];
  private entries = 0;
  private problem: string | undefined;

  /** Queues the plan's next keys (JSON texts), in plan order. */
  addPlanned(keys: string[]): void {
    this.planned.push(...keys.map(canonicalKey));
  }

  /** Planned keys queued and not yet matched. */
  pending(): number {
    return this.planned.length;
  }

  /** Checks the backup's next keys against the queued planned keys; the refusal, if any. */
  check(keys: string[]): string | undefined {
    let head = 0;
    for (const raw of keys) {
      if (this.problem) break;
      this.entries++;
      const key = canonicalKey(raw);
      const want = this.planned[head++];
      if (want === undefined)
        this.problem =
          `the backup holds key ${key}, which the plan does not name (entry ${this.entries}, after ` +
          `all of the plan's keys)`;
      else if (want !== key)
        this.problem = `the backup holds key ${key} at entry ${this.entries}, where the plan names ${want}`;
    }
    this.planned = this.planned.slice(head);
    return this.problem;
  }

  /** After the whole backup, with the plan's remaining keys queued: the refusal when keys are missing. */
  finish(): string | undefined {
    if (this.problem) return this.problem;
    return this.planned.length > 0
      ? `the backup ends after ${this.entries} entries: planned key ${this.planned[0]} and ` +
          `${this.planned.length - 1} more are missing`
      : undefined;
  }
}
