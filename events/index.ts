/**
 * The domain events: a discriminated union over `type`, each with a schema version. Stored events
 * are `{type, data, metadata: {schemaVersion, machineVersion, …}}`; `fromStored` runs the upcaster
 * chain for older versions, then validates, so old events replay after a schema change.
 */
import { z } from 'zod';
import * as E from './cut-events.js';

export * from './common.js';
export * from './plan.js';
export * from './canonical.js';
export * from './governance.js';
export * from './signature.js';
export * from './checkpoint.js';
export * from './streams.js';
export { ApprovalGrantedV1 } from './cut-events.js';

const ev = <T extends string, S extends z.ZodType>(type: T, data: S) => z.strictObject({ type: z.literal(type), data });

export const DomainEvent = z.discriminatedUnion('type', [
  ev('CutPlanned', E.CutPlanned),
  ev('ApprovalGranted', E.ApprovalGranted),
  ev('CutAborted', E.CutAborted),
  ev('DryRunStarted', E.DryRunStarted),
  ev('PhaseSimulated', E.PhaseSimulated),
  ev('DryRunCompleted', E.DryRunCompleted),
  ev('LiveRunStarted', E.LiveRunStarted),
  ev('BackupTaken', E.BackupTaken),
  ev('LegAWritten', E.LegAWritten),
  ev('LegBRecorded', E.LegBRecorded),
  ev('WriteVerified', E.WriteVerified),
  ev('VerifyFailed', E.VerifyFailed),
  ev('LifecycleEnacted', E.LifecycleEnacted),
  ev('PhaseFailed', E.PhaseFailed),
  ev('RunHalted', E.RunHalted),
  ev('RunResumed', E.RunResumed),
  ev('RunContinued', E.RunContinued),
  ev('RevertStarted', E.RevertStarted),
  ev('CutReverted', E.CutReverted),
  ev('RevertFailed', E.RevertFailed),
]);
export type DomainEvent = z.infer<typeof DomainEvent>;
export type EventType = DomainEvent['type'];
export type EventOf<T extends EventType> = Extract<DomainEvent, { type: T }>;

export const KillSwitchEvent = z.discriminatedUnion('type', [
  ev('KillSwitchEngaged', E.KillSwitchEngaged),
  ev('KillSwitchReleased', E.KillSwitchReleased),
]);
export type KillSwitchEvent = z.infer<typeof KillSwitchEvent>;

/** Current schema version of each event type (absent = 1). */
export const SCHEMA_VERSIONS: Partial<Record<string, number>> = { ApprovalGranted: 2 };

/** Upcasters: `[type][fromVersion]` turns data of that version into the next version. */
const UPCASTERS: Record<string, Record<number, (data: any) => any>> = {
  ApprovalGranted: {
    1: ({ role, ...rest }: z.infer<typeof E.ApprovalGrantedV1>) => ({ ...rest, roles: [role] }),
  },
};

export interface StorableEvent {
  type: string;
  data: unknown;
  metadata: Record<string, unknown>;
}

/** The store shape of a domain event, stamped with its schema and machine versions. */
export function toStorable(event: DomainEvent | KillSwitchEvent, meta: { machineVersion: string }): StorableEvent {
  return {
    type: event.type,
    data: event.data,
    metadata: { schemaVersion: SCHEMA_VERSIONS[event.type] ?? 1, machineVersion: meta.machineVersion },
  };
}

/** Upcasts `data` of `type` from `version` to the current schema version. */
export function upcast(type: string, version: number, data: unknown): unknown {
  const target = SCHEMA_VERSIONS[type] ?? 1;
  let d = data;
  for (let v = version; v < target; v++) {
    const step = UPCASTERS[type]?.[v];
    if (!step) throw new Error(`no upcaster for ${type} v${v}`);
    d = step(d);
  }
  return d;
}

/**
 * Each event type's `data` schema, taken from the union above (not written twice). Parsing `data`
 * with its own schema accepts exactly what the union accepts for `{type, data}` — the envelope is a
 * strict object of the literal type and that schema — at a fraction of the union's cost.
 */
const DATA_SCHEMAS = new Map<string, z.ZodType>(DomainEvent.options.map((o) => [o.shape.type.value, o.shape.data]));

/**
 * Parses a stored cut event (upcasting first). Returns the zod error instead of throwing. Every
 * event is validated once by its type's schema; only a rejected event (or an unknown type) is
 * parsed again through the whole union, so the error reported is the union's, as before.
 */
export function parseStored(stored: {
  type: string;
  data: unknown;
  metadata?: Record<string, unknown> | null;
}): z.ZodSafeParseResult<DomainEvent> {
  const version = Number(stored.metadata?.schemaVersion ?? 1);
  let data: unknown;
  try {
    data = upcast(stored.type, version, stored.data);
  } catch (err) {
    return DomainEvent.safeParse({ type: stored.type, data: { upcastError: String(err) } });
  }
  const schema = DATA_SCHEMAS.get(stored.type);
  if (schema) {
    const parsed = schema.safeParse(data);
    if (parsed.success) return { success: true, data: { type: stored.type, data: parsed.data } as DomainEvent };
  }
  return DomainEvent.safeParse({ type: stored.type, data });
}

/**
 * One field of stored event data, read without trusting its shape (the audit reads tampered data
 * too): the own property `key` of an object, else undefined. Typed readers use `parseStored`.
 */
export function fieldOf(data: unknown, key: string): unknown {
  return data !== null && typeof data === 'object' && Object.hasOwn(data, key)
    ? (data as Record<string, unknown>)[key]
    : undefined;
}
