/**
 * Followers wake on LISTEN/NOTIFY instead of polling. @databases/pg does not expose a long-lived
 * LISTEN connection, so this one file uses a dedicated `pg` client — the single exception to the
 * one-driver rule. Notifications carry the stream id; readers then follow the gapless cursor.
 */
import pg from 'pg';

/** Calls `onNotify(streamId)` after each committed append; resolves to an unsubscribe function. */
export async function subscribe(url: string, onNotify: (streamId: string) => void): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: url, application_name: 'cutter-follower' });
  client.on('error', () => undefined);
  await client.connect();
  client.on('notification', (msg) => {
    if (msg.channel === 'cutter_events') onNotify(msg.payload ?? '');
  });
  await client.query('LISTEN cutter_events');
  return async () => {
    await client.query('UNLISTEN cutter_events').catch(() => undefined);
    await client.end();
  };
}
