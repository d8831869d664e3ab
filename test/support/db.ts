/**
 * A fresh, empty database per test file on the run's PostgreSQL (see global-setup.ts), dropped
 * afterwards. Real PostgreSQL always: never a mock of the store.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { connect, sql } from '../../src/store/connection.js';
// The `inject('adminUrl')` typing lives there; also when scripts compile this file (tsconfig.build.json).
import type {} from './global-setup.js';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export function adminUrl(): string {
  return inject('adminUrl');
}

/** `admin` defaults to the run's server (only available inside vitest); scripts pass their own. */
export async function freshDatabase(prefix = 'cutter_t', admin: string = adminUrl()): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const db = connect(admin, { poolSize: 1 });
  try {
    await db.query(sql`CREATE DATABASE ${sql.ident(name)}`);
  } finally {
    await db.dispose();
  }
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    drop: async () => {
      const d = connect(admin, { poolSize: 1 });
      try {
        await d.query(sql`DROP DATABASE IF EXISTS ${sql.ident(name)} WITH (FORCE)`);
      } finally {
        await d.dispose();
      }
    },
  };
}
