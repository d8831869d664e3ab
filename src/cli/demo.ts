/**
 * `cutter demo` / `npm run demo`: the whole story on the embedded default, narrated. Every step is a
 * real cutter command run through the same CLI entry an operator uses, in a fresh workspace
 * `./cutter-demo` (recreated on each run, so the demo is safe to run twice). The embedded server is
 * held open for the whole demo so the steps don't each start it.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { acquireEmbedded, removeEmbedded } from '../store/embedded.js';
import { colors } from './output.js';
import { embeddedDir } from '../workspace/store-url.js';

export const DEMO_DIR = 'cutter-demo';
const CUT = 'kb-2026-11-release';

interface Step {
  say: string;
  argv?: string[];
  expect?: number;
  env?: Record<string, string | undefined>;
  before?: () => Promise<void>;
}

/** Runs the narrated demo; resolves to the exit status (0 when every step did what it should). */
export async function runDemo(opts: {
  json?: boolean;
  dir?: string;
  /** The CLI entry each step runs through (injected: no import cycle). */ main: (argv: string[]) => Promise<number>;
}): Promise<number> {
  const c = colors(Boolean(process.stdout.isTTY) && !process.env.NO_COLOR);
  const root = path.resolve(opts.dir ?? DEMO_DIR);
  const previousCwd = process.cwd();
  const previousEnv = { ...process.env };
  await freshWorkspace(root);
  const lease = await acquireEmbedded(embeddedDir(root));
  try {
    const status = await playSteps([...planningSteps(c), ...runningSteps()], opts.main, c);
    if (status === 0) {
      narrate(c, `Done. The workspace is in ${path.relative(previousCwd, root) || root}/ — try:`);
      process.stdout.write(
        `  cd ${path.relative(previousCwd, root) || root} && CUTTER_KEYS_DIR=$PWD/keys ` +
          `${path.relative(root, path.join(previousCwd, 'bin', 'cutter'))} status\n`,
      );
    }
    return status;
  } finally {
    process.chdir(previousCwd);
    for (const k of Object.keys(process.env)) if (!(k in previousEnv)) delete process.env[k];
    Object.assign(process.env, previousEnv);
    await lease.release();
  }
}

/**
 * Recreates the demo workspace and enters it, with no cutter variable from the caller's environment
 * (the caller restores cwd and environment).
 */
async function freshWorkspace(root: string): Promise<void> {
  // The previous run's server and data go too, also when they were kept outside the workspace (as root).
  if (existsSync(root)) await removeEmbedded(embeddedDir(root)).catch(() => undefined);
  await fs.rm(root, { recursive: true, force: true });
  await fs.mkdir(root, { recursive: true });
  process.chdir(root);
  for (const k of [
    'CUTTER_STORE_URL',
    'CUTTER_EXECUTION_ENABLED',
    'CUTTER_ACTOR',
    'CUTTER_BACKUP_PASSPHRASE',
    'CUTTER_BACKUP_KEY',
  ])
    delete process.env[k];
  process.env.CUTTER_KEYS_DIR = path.join(root, 'keys');
}

/** Runs the steps in order through the CLI entry; 1 at the first whose exit status is not the expected one. */
async function playSteps(
  steps: Step[],
  main: (argv: string[]) => Promise<number>,
  c: ReturnType<typeof colors>,
): Promise<number> {
  for (const step of steps) {
    if (step.say) narrate(c, step.say);
    if (step.env) Object.assign(process.env, step.env);
    await step.before?.();
    if (!step.argv) continue;
    process.stdout.write(`${c.dim('$')} ${c.bold(['cutter', ...step.argv].map(quote).join(' '))}\n`);
    const code = await main(['node', 'cutter', ...step.argv]);
    const expected = step.expect ?? 0;
    if (code !== expected) {
      process.stderr.write(`demo: \`cutter ${step.argv.join(' ')}\` exited ${code}, expected ${expected}\n`);
      return 1;
    }
    if (expected !== 0) process.stdout.write(c.dim(`(exit ${code}, as expected)\n`));
  }
  return 0;
}

/** The story up to an approved cut: workspace, governance, the plan, four-eyes approval. */
function planningSteps(c: ReturnType<typeof colors>): Step[] {
  return [
    {
      say:
        'A fresh workspace: an example target database (300 documents), member keys, governance signed by the ' +
        'admin root and pinned in the config, a backup keypair and a plan.',
      argv: ['init', '--example'],
    },
    {
      say:
        'Governance lives in the store, signed: who may plan, approve, run and administer, and the policy. Its ' +
        'genesis hash is the trust root.',
      argv: ['governance', 'show'],
    },
    {
      say: `The plan (${c.dim('plans/example.yaml')}): two new documents, two revisions, one withdrawal.`,
      before: async () => void process.stdout.write(await fs.readFile('plans/example.yaml', 'utf8')),
    },
    {
      say: 'erin records the plan: validated, hashed, prechecked read-only.',
      argv: ['plan', 'plans/example.yaml', '--as', 'erin'],
    },
    {
      say: 'erin cannot approve her own cut: she is its author and holds no approver role (four-eyes, by key).',
      argv: ['approve', CUT, '--as', 'erin'],
      expect: 3,
    },
    { say: 'alice and bob sign approvals bound to the plan hash.', argv: ['approve', CUT, '--as', 'alice'] },
    { say: '', argv: ['approve', CUT, '--as', 'bob'] },
  ];
}

/** The runs: dry run, the kill-switch and the three locks, the live run, views, report, revert, replay. */
function runningSteps(): Step[] {
  return [
    {
      say: 'A dry run: the simulator reads the pre-image in READ ONLY transactions and shows the diff.',
      argv: ['run', CUT, '--dry-run', '--as', 'erin'],
    },
    {
      say: 'dana, an operator, engages the kill-switch (any member may).',
      argv: ['killswitch', 'engage', '--reason', 'change freeze until review', '--as', 'dana'],
    },
    {
      say: 'A live run now is refused, naming every closed lock.',
      argv: ['run', CUT, '--live', '--as', 'erin'],
      expect: 3,
    },
    { say: 'dana cannot release it: only an admin may.', argv: ['killswitch', 'release', '--as', 'dana'], expect: 3 },
    {
      say:
        'Open the three locks: execution.enabled in the config, CUTTER_EXECUTION_ENABLED=1, and the admin root ' +
        'releases the kill-switch.',
      before: async () => {
        const text = await fs.readFile('cutter.config.yaml', 'utf8');
        await fs.writeFile('cutter.config.yaml', text.replace(/enabled: false/, 'enabled: true'));
        process.stdout.write(`  cutter.config.yaml: execution.enabled: true\n  export CUTTER_EXECUTION_ENABLED=1\n`);
      },
      argv: ['killswitch', 'release', '--as', 'root'],
      env: { CUTTER_EXECUTION_ENABLED: '1' },
    },
    {
      say: 'The live run: backup (encrypted), leg A, leg B, verify, enact — each one transaction with a receipt.',
      argv: ['run', CUT, '--live', '--as', 'erin'],
    },
    { say: 'Status and history come from projections and the event log.', argv: ['status', CUT] },
    { say: '', argv: ['history', CUT] },
    {
      say:
        'The audit report, from events only: gates, approvals, lock evidence, attestation, the diagram with the ' +
        'path taken.',
      argv: ['report', CUT, '--format', 'html', '--out', 'reports/kb-2026-11-release.html'],
    },
    { say: '', argv: ['report', CUT, '--format', 'md', '--out', 'reports/kb-2026-11-release.md'] },
    {
      say: 'Revert: decrypt the backup and restore the pre-image exactly, in one transaction.',
      argv: ['revert', CUT, '--live', '--as', 'erin'],
    },
    {
      say:
        'Replay: every event re-checked by the machine and its signature by an enrolled key checked from the ' +
        'pinned root; hash chains verified, projections compared.',
      argv: ['replay', '--all'],
    },
  ];
}

/** A narration line. */
function narrate(c: ReturnType<typeof colors>, text: string): void {
  process.stdout.write(`\n${c.bold(c.cyan('▸'))} ${text}\n`);
}

function quote(arg: string): string {
  return /^[A-Za-z0-9._/=:@-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}
