/**
 * One driver path to PostgreSQL: `@databases/pg` connection pools with `sql` tagged templates.
 * Every module that talks to a database (store, adapters, tests, bench) opens it through here.
 */
import databasesPg, { sql, type ConnectionPool, type Queryable, type SQLQuery, type Transaction } from '@databases/pg';

// @databases/pg is CommonJS: under NodeNext its default import is the module object.
const createConnectionPool = databasesPg.default;

export { sql };
export type { ConnectionPool, Queryable, SQLQuery, Transaction };

export interface ConnectOptions {
  /** Maximum connections in the pool (default 10). */
  poolSize?: number;
  applicationName?: string;
}

/** Opens a pool on `url`. bigints come back as strings (positions, xids): exact, JSON-safe. */
export function connect(url: string, options: ConnectOptions = {}): ConnectionPool {
  return createConnectionPool({
    connectionString: url,
    bigIntMode: 'string',
    poolSize: options.poolSize ?? 10,
    applicationName: options.applicationName ?? 'cutter',
    ssl: false,
  });
}
