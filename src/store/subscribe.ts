/**
 * Followers wake on LISTEN/NOTIFY instead of polling. @databases/pg does not expose a long-lived
 * LISTEN connection, so this one file uses a dedicated `pg` client — the single exception to the
 * one-driver rule. Notifications carry the stream id; readers then follow the gapless cursor.
 * A subscriber registers its backend in cutter.subscribers: appends notify only when one exists.
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
  // Appends notify only while a subscriber is registered: register (pruning rows of backends that
  // are gone) before the caller catches up, so nothing committed after this point goes unannounced.
  await client
    .query(
      `DELETE FROM cutter.subscribers s WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = s.backend_pid)`,
    )
    .catch(() => undefined);
  await client.query(`INSERT INTO cutter.subscribers (backend_pid) VALUES (pg_backend_pid()) ON CONFLICT DO NOTHING`);
  return async () => {
    await client.query('UNLISTEN cutter_events').catch(() => undefined);
    await client.query('DELETE FROM cutter.subscribers WHERE backend_pid = pg_backend_pid()').catch(() => undefined);
    await client.end();
  };
}
