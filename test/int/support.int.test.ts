import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, sql } from '../../src/store/connection.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';

describe('test support', () => {
  let db: TestDatabase;
  beforeAll(async () => (db = await freshDatabase()));
  afterAll(async () => db.drop());

  it('hands each file its own empty database on a real server', async () => {
    const pool = connect(db.url, { poolSize: 1 });
    const [row] = await pool.query(
      sql`SELECT current_database() AS name, count(*)::int AS tables FROM pg_tables WHERE schemaname = 'public'`,
    );
    await pool.dispose();
    expect(row).toEqual({ name: db.name, tables: 0 });
  });
});
