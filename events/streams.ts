/**
 * The stream vocabulary, defined once: every event lives in one of these streams.
 * - `cut-<cutId>`: one cut's lifecycle (plan, approvals, runs, revert);
 * - `killswitch`: the kill-switch's engage and release events;
 * - `governance`: the trust root's genesis and every later governance version;
 * - `checkpoints`: signed checkpoints over every stream's head (the anchors).
 */
export const CUT_STREAM_PREFIX = 'cut-';
export const KILL_SWITCH_STREAM = 'killswitch';
export const GOVERNANCE_STREAM = 'governance';
export const CHECKPOINT_STREAM = 'checkpoints';

/** The stream of a cut. */
export const cutStreamId = (cutId: string): string => `${CUT_STREAM_PREFIX}${cutId}`;

/** Whether a stream is a cut's stream. */
export const isCutStream = (streamId: string): boolean => streamId.startsWith(CUT_STREAM_PREFIX);

/** The cut id of a cut stream. */
export const cutIdOf = (streamId: string): string => streamId.slice(CUT_STREAM_PREFIX.length);
