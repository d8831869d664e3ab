/**
 * One driver path to PostgreSQL: `@databases/pg` connection pools with `sql` tagged templates.
 * Every module that talks to a database (store, adapters, tests, bench) opens it through here.
 *
 * The pool is assembled from @databases/pg's own parts — its `pg` driver, Connection and
 * Transaction (so queries, transactions, retries and errors behave exactly as @databases/pg's) on
 * @databases/shared's pool — instead of through the package's `createConnectionPool`, for two
 * start-up costs of that entry point (issue #18): it sleeps 100 ms before its *first* connection
 * attempt, not only between retries (@databases/pg 6.1.0, lib/ConnectionSource.js: `attemptCount++`
 * then `if (attemptCount) sleep(attemptCount * 100)`), and importing its index searches the file
 * system for a cosmiconfig `pg` config (every directory from the cwd up) to learn which environment
 * variable holds a default URL, which cutter never uses. Nothing here imports that index at run
 * time. The first connection of a pool is still retried for up to 2 s (a server that has just
 * started may drop it), with the same back-off as @databases/pg, only without the initial sleep.
 * These are @databases/pg's internal modules, so package.json pins its exact version and
 * test/int/connection.int.test.ts checks the behaviour this relies on.
 */
import type { ConnectionPool, Queryable, SQLQuery, Transaction } from '@databases/pg';
import ConnectionModule from '@databases/pg/lib/Connection.js';
import definePreconditionModule from '@databases/pg/lib/definePrecondition.js';
import DriverModule from '@databases/pg/lib/Driver.js';
import TransactionModule from '@databases/pg/lib/Transaction.js';
import TypeOverridesModule, { getTypeResolver, parseArray, parseComposite } from '@databases/pg/lib/TypeOverrides.js';
import IsolationLevelModule from '@databases/pg/lib/types/IsolationLevel.js';
import parseConnectionStringModule from '@databases/pg-connection-string';
import { SQLErrorCode } from '@databases/pg-errors';
import { BaseConnectionPool } from '@databases/shared';
import sqlModule from '@databases/sql';
import { PassThrough, type Readable } from 'node:stream';
import pg from 'pg';

/**
 * These CommonJS modules set `exports.default`. Node hands an ES module importing them the module
 * object (the value is its `default`); vitest's interop hands over `exports.default` itself.
 */
function cjsDefault<T>(m: { default: T }): T {
  return (m as { default?: T }).default ?? (m as unknown as T);
}
const PgDriver = cjsDefault(DriverModule);
const PgConnection = cjsDefault(ConnectionModule);
const PgTransaction = cjsDefault(TransactionModule);
const TypeOverrides = cjsDefault(TypeOverridesModule);
const definePrecondition = cjsDefault(definePreconditionModule);
const sql = cjsDefault(sqlModule);
const parseConnectionString = cjsDefault(parseConnectionStringModule);
type PgDriver = InstanceType<typeof PgDriver>;
type PgConnection = InstanceType<typeof PgConnection>;
type PgTransaction = InstanceType<typeof PgTransaction>;
/** @databases/pg types its client structurally (`pg` is untyped there). */
type PgClient = ConstructorParameters<typeof PgDriver>[0];

/** Transaction isolation levels (`tx(fn, { isolationLevel })`), as @databases/pg exports them. */
export const IsolationLevel = cjsDefault(IsolationLevelModule);
export type IsolationLevel = (typeof IsolationLevel)[keyof typeof IsolationLevel];

export { sql };
export type { ConnectionPool, Queryable, SQLQuery, Transaction };

export interface ConnectOptions {
  /** Maximum connections in the pool (default 10). */
  poolSize?: number;
  applicationName?: string;
  /** Send `prepared` queries as named statements (default: `preparedStatementsByDefault()`). */
  preparedStatements?: boolean;
}

/** @databases/pg's defaults for what cutter does not set. */
const CONNECTION_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 30_000;
const QUEUE_TIMEOUT_MS = 60_000;
const ACQUIRE_LOCK_TIMEOUT_MS = 60_000;
const FIRST_CONNECTION_RETRY_MS = 2_000;

/**
 * Statements sent as named prepared statements: the query object → its statement name (see
 * `prepared`). Weak, so a query's entry lives exactly as long as the query object.
 */
const statementNames = new WeakMap<SQLQuery, string>();

/**
 * Whether pools send `prepared` queries as named statements unless told (`ConnectOptions`): yes,
 * but `CUTTER_STORE_PREPARE=off` says no, for a store reached through a pooler that cannot carry a
 * named statement from one transaction to the next (PgBouncer in transaction mode before 1.21, or
 * with `max_prepared_statements = 0`).
 */
export function preparedStatementsByDefault(env: NodeJS.ProcessEnv = process.env): boolean {
  return !/^(off|false|0|no)$/i.test(env.CUTTER_STORE_PREPARE ?? '');
}

/**
 * Marks `query` to be sent as the named prepared statement `name` by pools that prepare: each
 * connection parses and plans it once (the server keeps the plan for the connection's life) and
 * afterwards sends only its parameters. Every query given one name must have the same text (build
 * it with the same template each time); pg refuses a second text on a connection. Results, errors
 * and transactions are those of the unnamed statement: only the parse and the plan are shared.
 * Used for the store's append (issue #18: its parse and plan were ~150,000 of the ~665,000 server
 * instructions of a one-event append).
 */
export function prepared(name: string, query: SQLQuery): SQLQuery {
  statementNames.set(query, name);
  return query;
}

/**
 * @databases/pg's query-start hook: gives a marked query its statement name before pg sends it.
 * pg itself refuses a name sent on a connection with a second text.
 */
function nameStatement(query: SQLQuery, formatted: { text: string; name?: string }): void {
  const name = statementNames.get(query);
  if (name !== undefined) formatted.name = name;
}

const factories = {
  createTransaction: (driver: PgDriver, parent: ConstructorParameters<typeof PgTransaction>[2]) =>
    new PgTransaction(driver, factories, parent),
  createConnection: (driver: PgDriver) => new PgConnection(driver, factories),
};

/** A connection error on an idle pooled connection: the pool replaces it; anything else is worth a line. */
function onIdleError(err: Error): void {
  if (!/connection\s*terminated\s*unexpectedly/i.test(err.message))
    console.warn(`Error in Postgres ConnectionPool: ${err.message}`);
}

class Pool extends BaseConnectionPool<PgConnection, PgTransaction, PgDriver> implements ConnectionPool {
  readonly sql = sql;
  readonly parseComposite = parseComposite;
  readonly parseArray = parseArray;

  constructor(
    poolSize: number,
    private readonly clientConfig: pg.ClientConfig & { types: InstanceType<typeof TypeOverrides> },
    hosts: { host: string; port: number | undefined }[],
    prepare: boolean,
  ) {
    const open = async (): Promise<PgDriver> => {
      const driver = new PgDriver(
        new pg.Client(clientConfig) as unknown as PgClient,
        prepare ? { onQueryStart: nameStatement } : {},
        ACQUIRE_LOCK_TIMEOUT_MS,
      );
      await driver.connect();
      return driver;
    };
    // The first connection of the pool tries every host, retrying for up to 2 s; later ones go
    // straight to the server that answered, and start over from the first host on failure.
    const first = definePrecondition(async (): Promise<PgDriver> => {
      const start = Date.now();
      let error: unknown;
      for (let attempt = 1; ; attempt++) {
        if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, attempt * 100));
        for (const { host, port } of hosts) {
          clientConfig.host = host;
          clientConfig.port = port;
          try {
            return await open();
          } catch (err) {
            error = err;
          }
        }
        if (Date.now() - start >= FIRST_CONNECTION_RETRY_MS) throw error;
      }
    });
    const connection = async (): Promise<PgDriver> => {
      const driver = await first.callPrecondition();
      if (driver) return driver;
      try {
        return await open();
      } catch {
        first.resetPrecondition();
        return connection();
      }
    };
    const typesSetup = definePrecondition(async (driver: PgDriver) =>
      clientConfig.types.prepareOverrides(getTypeResolver(driver.client)),
    );
    super(
      {
        maxSize: poolSize,
        maxUses: Infinity,
        idleTimeoutMilliseconds: IDLE_TIMEOUT_MS,
        queueTimeoutMilliseconds: QUEUE_TIMEOUT_MS,
        isConnectionLimitError: (err: Error & { code?: string }) => {
          if (err.code !== SQLErrorCode.TOO_MANY_CONNECTIONS) return false;
          onIdleError(err);
          return true;
        },
        openConnection: async (removeFromPool) => {
          const driver = await connection();
          try {
            await typesSetup.callPrecondition(driver);
          } catch (err) {
            await driver.dispose().catch(() => undefined);
            throw err;
          }
          driver.onAddingToPool(removeFromPool, onIdleError);
          return driver;
        },
        closeConnection: async (driver) => {
          try {
            await driver.dispose();
          } catch (err) {
            console.warn((err as Error).message);
          }
        },
        onActive: (driver) => driver.onActive(),
        onIdle: (driver) => driver.onIdle(),
      },
      factories,
    );
  }

  async registerTypeParser<T>(type: number | string, parser: (value: string) => T): Promise<(value: string) => T> {
    this.clientConfig.types.setTypeParser(await this.typeId(type), parser);
    return parser;
  }

  async getTypeParser(type: number | string): Promise<(value: string) => unknown> {
    return this.clientConfig.types.getTypeParser(await this.typeId(type));
  }

  /** As @databases/pg's pool: a pooled connection's row stream, released when the stream closes. */
  queryNodeStream(query: SQLQuery, options: { highWaterMark?: number } = {}): Readable {
    this._throwIfDisposed();
    const stream = new PassThrough({ objectMode: true });
    this._pool
      .getConnection()
      .then((pooled) => {
        let released = false;
        const rows = pooled.connection.queryNodeStream(query, options);
        rows.pipe(stream);
        rows.on('error', (err) => {
          if (!released) {
            released = true;
            pooled.dispose();
          }
          stream.emit('error', err);
        });
        rows.on('close', () => {
          if (!released) {
            released = true;
            pooled.release();
          }
          stream.emit('close');
        });
        stream.on('close', () => rows.destroy());
      })
      .catch((err: unknown) => stream.emit('error', err));
    return stream;
  }

  /** A type's oid, resolved as @databases/pg's own pool does (its resolver, on a pooled connection). */
  private async typeId(type: number | string): Promise<number> {
    if (typeof type === 'number') return type;
    const pooled = await this._pool.getConnection();
    let released = false;
    try {
      const id = await getTypeResolver(pooled.connection.client)(type);
      pooled.release();
      released = true;
      return id;
    } finally {
      if (!released) pooled.dispose();
    }
  }
}

/**
 * Parses a connection string strictly and quietly: an option it does not recognise is an error,
 * never a warning printed with its text (in `password=correct horse`, the unquoted ` horse` would
 * be read as an option and echoed, and a following `dbname=…` swallowed: another database). The
 * message never quotes the string: it may hold a password.
 */
export function parseConnection(url: string): ReturnType<typeof parseConnectionString> {
  try {
    const parsed = parseConnectionString(url, {
      unrecognisedOptionMode: () => {
        throw new Error("an option it does not recognise (quote a value with spaces: password='a b')");
      },
      invalidOptionMode: 'error',
    });
    for (const port of parsed.port)
      if (port !== null && !(Number.isInteger(port) && port >= 1 && port <= 65535))
        throw new Error(`port ${port} is not between 1 and 65535`);
    return parsed;
  } catch (err) {
    const message = String((err as Error)?.message ?? err).split('\n')[0] ?? '';
    throw new Error(url && message.includes(url) ? 'not a PostgreSQL connection URI or key=value string' : message);
  }
}

/**
 * Opens a pool on `url` (a `postgres://` URI or a `key=value` connection string; no connection is
 * made until the first query). bigints come back as strings (positions, xids): exact, JSON-safe.
 * TLS is off (`ssl: false`), whatever the URL says. Close the pool with `dispose()`.
 */
export function connect(url: string, options: ConnectOptions = {}): ConnectionPool {
  const parsed = parseConnection(url);
  const ports = parsed.port;
  const hosts = (parsed.host.length ? parsed.host : ['localhost']).map((host, i) => ({
    host,
    port: (ports.length === 1 ? ports[0] : ports[i]) ?? undefined,
  }));
  if (ports.length > 1 && ports.length !== hosts.length)
    throw new Error('If you provide more than port, you must provide exactly the same number of hosts and port');
  return new Pool(
    options.poolSize ?? 10,
    {
      user: parsed.user,
      password: parsed.password,
      database: parsed.dbname,
      connectionTimeoutMillis: CONNECTION_TIMEOUT_MS,
      application_name: options.applicationName ?? 'cutter',
      keepAlive: false,
      keepAliveInitialDelayMillis: 0,
      types: new TypeOverrides({ bigIntMode: 'string' }),
      ssl: false,
    },
    hosts,
    options.preparedStatements ?? preparedStatementsByDefault(),
  );
}
