/**
 * A complete cutter workspace on real PostgreSQL for runner and CLI tests: a fresh store database,
 * a seeded target, member keys, governance recorded (genesis signed by dana) and pinned in the
 * config, a backup keypair. Members: alice and bob (approver, dba), erin (author, operator), dana
 * (admin, operator).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { generateBackupKey } from '../../src/crypto/backup-keys.js';
import { generateApproverKey } from '../../src/crypto/keys.js';
import { openSession, type Session } from '../../src/workspace/session.js';
import { applyGovernance } from '../../src/governance/commands.js';
import { approveCut } from '../../src/cuts/approve.js';
import { planCut } from '../../src/cuts/plan.js';
import { dryRun } from '../../src/runner/dry-run.js';
import { freshDatabase, type TestDatabase } from './db.js';
import { seededTarget, type SeededTarget } from './target.js';

export interface TestWorkspace {
  dir: string;
  keys: string;
  store: TestDatabase;
  target: SeededTarget;
  env: Record<string, string>;
  /** The pinned trust root (genesis signed by dana). */
  root: string;
  governanceFile: string;
  /** Records governance genesis (signed by dana) with the workspace env as it is now, and pins it. */
  recordGovernance(): Promise<string>;
  /** A session acting as `actor`; `env` overrides merge over the workspace env. */
  session(actor: string, env?: Record<string, string | undefined>): Session;
  /** Runs `fn` in a session acting as `actor`, closing it afterwards. */
  as<T>(actor: string, fn: (s: Session) => Promise<T>, env?: Record<string, string | undefined>): Promise<T>;
  writePlan(name: string, plan: unknown): string;
  setExecution(enabled: boolean): void;
  drop(): Promise<void>;
}

/** `adminUrl` puts the workspace's databases on that server (default: the run's, see db.ts). */
export async function testWorkspace(
  opts: { rows?: number; requireDryRun?: boolean; passphrase?: string; adminUrl?: string; governance?: boolean } = {},
): Promise<TestWorkspace> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutter-ws-'));
  const keys = path.join(dir, 'keys');
  const store = await freshDatabase('cutter_store', opts.adminUrl);
  const target = await seededTarget(opts.rows ?? 50, opts.adminUrl);
  // A second target (kb2) in the same database: a copy of the table, for multi-target campaigns.
  await target.query`CREATE TABLE public.documents2 AS SELECT * FROM public.documents`;
  await target.query`ALTER TABLE public.documents2 ADD PRIMARY KEY (id)`;
  const roles: Record<string, string[]> = {
    alice: ['approver', 'dba'],
    bob: ['approver', 'dba'],
    erin: ['author', 'operator'],
    dana: ['admin', 'operator'],
  };
  const members: Record<string, { publicKey: string; roles: string[] }> = {};
  for (const [name, r] of Object.entries(roles))
    members[name] = { publicKey: (await generateApproverKey(name, { dir: keys })).publicKey, roles: r };
  const governance = {
    members,
    policy: { maxRows: 1_000_000, requiredApprovals: 2, approvalTtl: '1h', requireDryRun: opts.requireDryRun ?? true },
    admins: { threshold: 1 },
  };
  const governanceFile = path.join(dir, 'governance.yaml');
  writeFileSync(governanceFile, stringify(governance));
  let root: string | undefined;
  const backup = await generateBackupKey('backup', {
    dir: keys,
    ...(opts.passphrase ? { passphrase: opts.passphrase } : {}),
  });
  const config = (enabled: boolean) => ({
    targets: {
      kb: {
        url: 'env:KB_URL',
        table: 'public.documents',
        key: ['id'],
        columns: ['title', 'body'],
        lifecycle: { column: 'status', value: 'published' },
      },
      kb2: { url: 'env:KB_URL', table: 'public.documents2', key: ['id'], columns: ['title', 'body'] },
    },
    ...(root ? { trust: { root } } : {}),
    backup: { recipients: [backup.publicKeyPath] },
    execution: { enabled },
  });
  const configFile = path.join(dir, 'cutter.config.yaml');
  const write = (enabled: boolean) => writeFileSync(configFile, stringify(config(enabled)));
  write(true);
  const env: Record<string, string> = {
    CUTTER_STORE_URL: store.url,
    KB_URL: target.db.url,
    CUTTER_KEYS_DIR: keys,
    CUTTER_EXECUTION_ENABLED: '1',
    NO_COLOR: '1',
    ...(opts.passphrase ? { CUTTER_BACKUP_PASSPHRASE: opts.passphrase } : {}),
  };
  const session = (actor: string, extra: Record<string, string | undefined> = {}) => {
    const merged: NodeJS.ProcessEnv = { ...env };
    for (const [k, v] of Object.entries(extra))
      if (v === undefined) delete merged[k];
      else merged[k] = v;
    return openSession({ cwd: dir, as: actor, env: merged });
  };
  const recordGovernance = async () => {
    const genesis = session('dana');
    try {
      root = (await applyGovernance(genesis, governanceFile)).root!;
    } finally {
      await genesis.close();
    }
    write(true);
    ws.root = root;
    return root;
  };
  const ws: TestWorkspace = {
    dir,
    keys,
    store,
    target,
    env,
    session,
    root: root ?? '',
    governanceFile,
    recordGovernance,
    as: async (actor, fn, extra) => {
      const s = session(actor, extra);
      try {
        return await fn(s);
      } finally {
        await s.close();
      }
    },
    writePlan: (name, plan) => {
      const file = path.join(dir, `${name}.yaml`);
      writeFileSync(file, stringify(plan));
      return file;
    },
    setExecution: write,
    drop: async () => {
      await store.drop();
      await target.db.drop();
    },
  };
  if (opts.governance !== false) await recordGovernance();
  return ws;
}

/** A plan with `n` upserts (half new, half revisions) and a couple of deletes. */
export function bigPlan(id: string, n: number, existing: number) {
  const changes: unknown[] = [];
  for (let i = 1; i <= n; i++) {
    const idText = i <= existing / 2 ? `KB-${String(i).padStart(4, '0')}` : `NEW-${String(i).padStart(7, '0')}`;
    changes.push({ upsert: { id: idText, title: `title v2 ${i}`, body: `body v2 ${i} ✓` } });
  }
  changes.push({ delete: { id: `KB-${String(existing).padStart(4, '0')}` } });
  return { id, target: 'kb', author: 'erin', reason: 'test cut', changes };
}

/** Plans `plan` as erin, approves it as alice and bob, and dry-runs it: a cut ready to run live. */
export async function readyCut(ws: TestWorkspace, id: string, plan: unknown = bigPlan(id, 6, 10)): Promise<void> {
  const file = ws.writePlan(id, plan);
  await ws.as('erin', (s) => planCut(s, file));
  await ws.as('alice', (s) => approveCut(s, id));
  await ws.as('bob', (s) => approveCut(s, id));
  await ws.as('erin', (s) => dryRun(s, id));
}
