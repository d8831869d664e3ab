/** The stream vocabulary (events/streams.ts): the names every part reads and writes. */
import { describe, expect, it } from 'vitest';
import {
  CHECKPOINT_STREAM,
  CUT_STREAM_PREFIX,
  GOVERNANCE_STREAM,
  KILL_SWITCH_STREAM,
  cutIdOf,
  cutStreamId,
  isCutStream,
} from '../../events/streams.js';

describe('stream names', () => {
  it('are the names stored stores already hold', () => {
    expect([CUT_STREAM_PREFIX, KILL_SWITCH_STREAM, GOVERNANCE_STREAM, CHECKPOINT_STREAM]).toEqual([
      'cut-',
      'killswitch',
      'governance',
      'checkpoints',
    ]);
  });

  it('map a cut id to its stream and back', () => {
    expect(cutStreamId('c1')).toBe('cut-c1');
    expect(cutIdOf('cut-c1')).toBe('c1');
    expect(cutIdOf(cutStreamId('cut-x'))).toBe('cut-x');
  });

  it('tell a cut stream from the others', () => {
    expect(isCutStream('cut-c1')).toBe(true);
    for (const s of [KILL_SWITCH_STREAM, GOVERNANCE_STREAM, CHECKPOINT_STREAM, 'cutc1', 'xcut-c1'])
      expect(isCutStream(s)).toBe(false);
  });
});

describe('storedSignedMessage', () => {
  it('covers schema version 1 when a stored event carries no metadata, as when it says 1', async () => {
    const { storedSignedMessage } = await import('../../events/signature.js');
    const e = { streamId: 'cut-c1', version: 1, eventId: 'e1', type: 'CutAborted', data: { a: 1 } };
    const s = { signer: 'erin', key: 'SHA256:k', governance: 1 };
    const bare = storedSignedMessage(e, s).toString();
    expect(bare).toBe(storedSignedMessage({ ...e, metadata: { schemaVersion: 1 } }, s).toString());
    expect(bare).not.toBe(storedSignedMessage({ ...e, metadata: { schemaVersion: 2 } }, s).toString());
    expect(JSON.parse(bare)).toMatchObject({
      streamId: 'cut-c1',
      version: 1,
      eventId: 'e1',
      schemaVersion: 1,
      signer: 'erin',
    });
  });
});
