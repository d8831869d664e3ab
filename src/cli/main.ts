/**
 * The `cutter` command line: declares commands and options, and for each action parses its input,
 * calls one function elsewhere and formats the result. No business logic and no SQL here; the
 * only place that catches, prints one clear line and chooses the exit status. Command modules are
 * imported lazily so `cutter --help` starts fast.
 */
import { Command, CommanderError, Option } from 'commander';
import { CutterError, InvalidInputError, exitCodeFor, EXIT } from '../errors.js';
import { makeOutput, type Output } from './output.js';
import type { Session } from '../workspace/session.js';

export interface GlobalOptions {
  as?: string;
  store?: string;
  config?: string;
  json?: boolean;
  debug?: boolean;
}

type Action = (session: Session, out: Output) => Promise<number | void>;

/** Runs the CLI on `argv` (process.argv shape) and resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  let status = 0;
  // Every command, not only the program: Commander copies these settings to a subcommand when it is
  // declared, and buildProgram declares them all first; without its own override a subcommand's
  // usage error (a missing argument, an unknown option) exits 1 inside Commander instead of 2.
  for (const command of everyCommand(program)) {
    command.exitOverride();
    command.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  }
  try {
    await program.parseAsync(argv);
    status = pendingStatus;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return EXIT.ok;
      // Commander has printed its line on stderr; with --json, stdout says it too, as JSON.
      if (program.opts<GlobalOptions>().json) jsonError('InvalidInput', err.message.replace(/^error: /, ''), [], 2);
      return EXIT.invalidInput;
    }
    status = report(err, program.opts<GlobalOptions>());
  }
  return status;
}

let pendingStatus = 0;

/** `command` and all its subcommands, depth first. */
function everyCommand(command: Command): Command[] {
  return [command, ...command.commands.flatMap((c) => everyCommand(c))];
}

/** Wraps an action: opens a session from global options, runs, closes, maps errors to exit codes. */
function act(program: Command, fn: Action): () => Promise<void> {
  return async () => {
    const globals = program.opts<GlobalOptions>();
    const out = makeOutput({ json: Boolean(globals.json) });
    const { openSession } = await import('../workspace/session.js');
    let session: Session | undefined;
    try {
      // Given but empty is bad input, never the default (`--as ""` is not the OS user).
      for (const name of ['config', 'store', 'as'] as const)
        if (globals[name] === '')
          throw new InvalidInputError(`--${name}: empty (leave the option out for the default)`);
      session = openSession({
        ...(globals.config !== undefined ? { config: globals.config } : {}),
        ...(globals.store !== undefined ? { store: globals.store } : {}),
        ...(globals.as !== undefined ? { as: globals.as } : {}),
      });
      pendingStatus = (await fn(session, out)) ?? 0;
    } catch (err) {
      pendingStatus = report(err, globals, out);
    } finally {
      await session?.close().catch(() => undefined);
    }
  };
}

/** Prints one line for an error (stack only with --debug) and returns its exit status. */
function report(err: unknown, globals: GlobalOptions, out?: Output): number {
  const status = exitCodeFor(err);
  const message = err instanceof Error ? err.message : String(err);
  const reasons =
    err instanceof CutterError && Array.isArray(err.details.reasons) ? (err.details.reasons as string[]) : [];
  const label =
    err instanceof CutterError
      ? status === 3
        ? 'refused'
        : status === 4
          ? 'verification failed'
          : status === 2
            ? 'invalid input'
            : 'error'
      : 'error';
  process.stderr.write(`cutter: ${label}: ${message}\n`);
  for (const r of reasons) if (r !== message) process.stderr.write(`  - ${r}\n`);
  if (globals.debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  // With --json, stdout holds the error as JSON, whether it came from the action or from the checks
  // before it (the pre-action hook has no output object).
  if (out?.json || globals.json)
    jsonError(err instanceof CutterError ? err.code : 'Internal', message, reasons, status);
  return status;
}

/** The `{"error": …}` object `--json` prints on stdout for a failed command. */
function jsonError(code: string, message: string, reasons: string[], exitCode: number): void {
  process.stdout.write(`${JSON.stringify({ error: { code, message, reasons, exitCode } }, null, 2)}\n`);
}

function buildProgram(): Command {
  const program = new Command('cutter')
    .description('Governed, event-sourced cuts to production PostgreSQL data.')
    .option('--as <actor>', 'who is acting (default: CUTTER_ACTOR, else the OS user)')
    .option(
      '--store <url>',
      'event store URL or env:VAR, without a password (default: CUTTER_STORE_URL, config store.url, else embedded ' +
        'PostgreSQL under ./.cutter)',
    )
    .option('--config <file>', 'config file', 'cutter.config.yaml')
    .option('--json', 'machine output: stdout holds only JSON')
    .option('--debug', 'print stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nExample:\n  $ cutter init --example && cutter plan plans/example.yaml --as erin\n\n' +
        'Exit codes: 0 done, 1 fault, 2 bad input, 3 refused by governance, 4 verification failed.',
    );
  program.hook('preAction', async () => {
    const { store } = program.opts<GlobalOptions>();
    if (store) (await import('../workspace/store-url.js')).refusePasswordOnCommandLine(store);
  });
  registerCommands(program);
  return program;
}

/** Adds the help text's example line to a command. */
const example = (cmd: Command, text: string) => cmd.addHelpText('after', `\nExample:\n  $ ${text}`);

/** Every command, by group; each action imports its command module lazily. */
function registerCommands(program: Command): void {
  registerSetupCommands(program);
  registerCutCommands(program);
  registerViewCommands(program);
  registerAuditCommands(program);
  registerKillswitchCommands(program);
  registerGovernanceCommands(program);
  registerAnchorCommands(program);
  registerKeyAndMaintenanceCommands(program);
}

/** Setting up and the narrated tour: init, demo. */
function registerSetupCommands(program: Command): void {
  example(
    program
      .command('init')
      .description(
        'write cutter.config.yaml if absent and migrate the store; --example adds a seeded target, keys and a plan',
      )
      .option(
        '--example',
        'also create the example target database, approver keys alice and bob, a backup key and plans/example.yaml',
      )
      .action(async (opts: { example?: boolean }) =>
        act(program, async (s, out) => (await import('./commands/init.js')).init(s, out, opts))(),
      ),
    'cutter init --example',
  );
  example(
    program
      .command('demo')
      .description('the whole story, narrated, on the embedded default')
      .action(async () => {
        const { runDemo } = await import('./demo.js');
        pendingStatus = await runDemo({ json: Boolean(program.opts<GlobalOptions>().json), main });
      }),
    'cutter demo',
  );
}

/** The life of a cut: plan, approve, run, revert. */
function registerCutCommands(program: Command): void {
  example(
    program
      .command('plan <file>')
      .description('validate, hash, precheck (read-only) and record CutPlanned; prints the cut id and plan hash')
      .action(async (file: string) =>
        act(program, async (s, out) => (await import('./commands/cuts.js')).plan(s, out, file))(),
      ),
    'cutter plan plans/example.yaml --as erin',
  );
  example(
    program
      .command('approve <cut>')
      .description(
        'sign and record an approval as --as <approver> (key from $CUTTER_KEYS_DIR or ~/.config/cutter/keys); ' +
          'shows the plan approved',
      )
      .option('--plan-hash <hash>', 'refuse unless the recorded plan hash is the one you reviewed')
      .action(async (cut: string, opts: { planHash?: string }) =>
        act(program, async (s, out) => (await import('./commands/cuts.js')).approve(s, out, cut, opts.planHash))(),
      ),
    'cutter approve kb-20261125-1a2b3c --as alice',
  );
  example(
    program
      .command('run <cut>')
      .description('execute a run: --dry-run (simulator, never writes) or --live (adapter, behind the three locks)')
      .addOption(new Option('--dry-run', 'simulate every phase; read-only').conflicts('live'))
      .addOption(new Option('--live', 'write to the target').conflicts('dryRun'))
      .action(async (cut: string, opts: { dryRun?: boolean; live?: boolean }) =>
        act(program, async (s, out) => (await import('./commands/run.js')).run(s, out, cut, mode(opts)))(),
      ),
    'CUTTER_EXECUTION_ENABLED=1 cutter run kb-20261125-1a2b3c --live',
  );
  example(
    program
      .command('revert <cut>')
      .description('restore the backup taken before the cut (needs the backup private key)')
      .addOption(new Option('--dry-run', 'show what the revert would restore').conflicts('live'))
      .addOption(new Option('--live', 'restore the target').conflicts('dryRun'))
      .option('--force', 'revert even when the rows changed since the cut')
      .action(async (cut: string, opts: { dryRun?: boolean; live?: boolean; force?: boolean }) =>
        act(program, async (s, out) =>
          (await import('./commands/run.js')).revert(s, out, cut, mode(opts), Boolean(opts.force)),
        )(),
      ),
    'CUTTER_EXECUTION_ENABLED=1 cutter revert kb-20261125-1a2b3c --live',
  );
}

/** Read-only views of cuts: status, history, watch. */
function registerViewCommands(program: Command): void {
  example(
    program
      .command('status [cut]')
      .description('cuts and their state, or one cut with its runs and phases')
      .action(async (cut: string | undefined) =>
        act(program, async (s, out) => (await import('./commands/views.js')).status(s, out, cut))(),
      ),
    'cutter status --json',
  );
  example(
    program
      .command('history <cut>')
      .description("the timeline of a cut's events")
      .action(async (cut: string) =>
        act(program, async (s, out) => (await import('./commands/views.js')).history(s, out, cut))(),
      ),
    'cutter history kb-20261125-1a2b3c',
  );
  example(
    program
      .command('watch [cut]')
      .description('tail committed events from any machine (woken by NOTIFY) until the cut settles or --timeout')
      .option('--timeout <seconds>', 'stop after this many seconds', '600')
      .action(async (cut: string | undefined, opts: { timeout: string }) =>
        act(program, async (s, out) =>
          (await import('./commands/views.js')).watchCut(s, out, cut, Number(opts.timeout)),
        )(),
      ),
    'cutter watch kb-2026-11-release',
  );
}

/** The audit from the store: replay and report. */
function registerAuditCommands(program: Command): void {
  example(
    program
      .command('replay [cut]')
      .description('audit replay: hash chain, every transition re-checked by the machine, invariants, projections')
      .option('--all', 'every stream in the store')
      .option(
        '--trust-root <root>',
        "check authority from this root instead of the config's trust.root (an auditor's copy)",
      )
      .option('--checkpoint <file>', 'also hold the log against a checkpoint kept outside the store')
      .option('--targets', "also hold the log against every configured target's cutter_ledger rows")
      .option(
        '--since-checkpoint <file>',
        'with --all: verify this kept checkpoint, then replay only the streams written after it ' +
          '(unchanged ones are checked by head hash only)',
      )
      .action(
        async (
          cut: string | undefined,
          opts: { all?: boolean; trustRoot?: string; checkpoint?: string; targets?: boolean; sinceCheckpoint?: string },
        ) =>
          act(program, async (s, out) =>
            (await import('./commands/audit.js')).replay(s, out, cut, Boolean(opts.all), opts.trustRoot, {
              ...(opts.checkpoint !== undefined ? { checkpoint: opts.checkpoint } : {}),
              ...(opts.sinceCheckpoint !== undefined ? { since: opts.sinceCheckpoint } : {}),
              ...(opts.targets ? { targets: true } : {}),
            }),
          )(),
      ),
    'cutter replay --all',
  );
  example(
    program
      .command('report <cut>')
      .description('the audit report, generated from events')
      .addOption(new Option('--format <format>', 'md, html or json').choices(['md', 'html', 'json']).default('md'))
      .option('--out <file>', 'write to a file instead of stdout')
      .option(
        '--from <bundle>',
        "build the report from an audit bundle (no database), verified from --trust-root or the config's pin",
      )
      .option('--trust-root <root>', 'with --from: the trust root to verify the bundle from')
      .action(
        async (
          cut: string,
          opts: { format: 'md' | 'html' | 'json'; out?: string; from?: string; trustRoot?: string },
        ) => act(program, async (s, out) => (await import('./commands/audit.js')).report(s, out, cut, opts))(),
      ),
    'cutter report kb-20261125-1a2b3c --format html --out report.html',
  );
}

/** Anchors and offline bundles: checkpoint, export, verify. */
function registerAnchorCommands(program: Command): void {
  example(
    program
      .command('checkpoint')
      .description(
        'record a signed checkpoint of every stream head (after proving the log extends the previous one); --out ' +
          'keeps it as a file',
      )
      .option('--out <file>', 'also write the checkpoint to this file (keep it outside the store)')
      .option('--verify <file>', 'check a kept checkpoint against the store instead of recording one')
      .action(async (opts: { out?: string; verify?: string }) =>
        act(program, async (s, out) => (await import('./commands/anchors.js')).checkpoint(s, out, opts))(),
      ),
    'cutter checkpoint --out checkpoints/2026-11-30.json --as dana',
  );
  example(
    program
      .command('export <cut>')
      .description(
        'write an offline audit bundle: the cut, governance, kill-switch and the checkpoint covering it, with ' +
          'evidence hashes',
      )
      .requiredOption('--out <file>', 'the bundle file')
      .action(async (cut: string, opts: { out: string }) =>
        act(program, async (s, out) => (await import('./commands/anchors.js')).exportCut(s, out, cut, opts.out))(),
      ),
    'cutter export kb-2026-11-release --out kb-2026-11-release.bundle.json',
  );
  example(
    program
      .command('verify <file>')
      .description('verify an audit bundle offline, from the trust root alone: no database is opened')
      .option('--trust-root <root>', "the trust root to verify from (default: the config's trust.root)")
      .option('--checkpoint <file>', 'a checkpoint you kept: the bundle must carry it (not an older one)')
      .action(async (file: string, opts: { trustRoot?: string; checkpoint?: string }) =>
        act(program, async (s, out) =>
          (await import('./commands/anchors.js')).verify(s, out, file, opts.trustRoot, opts.checkpoint),
        )(),
      ),
    'cutter verify kb-2026-11-release.bundle.json --trust-root 9f2c…',
  );
}

/** `cutter killswitch engage|release|status` (lock 3). */
function registerKillswitchCommands(program: Command): void {
  const ks = program
    .command('killswitch')
    .description('lock 3: engage halts every live run at its next phase boundary');
  example(
    ks
      .command('engage')
      .description('engage the kill-switch')
      .requiredOption('--reason <reason>', 'why')
      .action(async (opts: { reason: string }) =>
        act(program, async (s, out) => (await import('./commands/killswitch.js')).engage(s, out, opts.reason))(),
      ),
    'cutter killswitch engage --reason "incident 4711"',
  );
  example(
    ks
      .command('release')
      .description('release the kill-switch')
      .action(async () => act(program, async (s, out) => (await import('./commands/killswitch.js')).release(s, out))()),
    'cutter killswitch release',
  );
  example(
    ks
      .command('status')
      .description('show the kill-switch state')
      .action(async () => act(program, async (s, out) => (await import('./commands/killswitch.js')).status(s, out))()),
    'cutter killswitch status --json',
  );
}

/** `cutter governance apply|approve|show`: the signed governance (the trust root). */
function registerGovernanceCommands(program: Command): void {
  const gov = program
    .command('governance')
    .description('members, roles, policy and admin threshold, signed in the store (the trust root)');
  example(
    gov
      .command('apply <file>')
      .description(
        'record genesis (first time; prints the trust root to pin) or propose the next version, signed by --as <admin>',
      )
      .action(async (file: string) =>
        act(program, async (s, out) => (await import('./commands/governance.js')).apply(s, out, file))(),
      ),
    'cutter governance apply governance.yaml --as root',
  );
  example(
    gov
      .command('approve <version>')
      .description('sign a proposed governance version as --as <admin>; effective once admins.threshold admins signed')
      .action(async (version: string) =>
        act(program, async (s, out) => (await import('./commands/governance.js')).approve(s, out, version))(),
      ),
    'cutter governance approve 2 --as root2',
  );
  example(
    gov
      .command('show')
      .description('the governance in force: version, members and key fingerprints, policy, the trust root')
      .option('--trust-root <root>', "check against this root instead of the config's pin")
      .action(async (opts: { trustRoot?: string }) =>
        act(program, async (s, out) => (await import('./commands/governance.js')).show(s, out, opts.trustRoot))(),
      ),
    'cutter governance show --json',
  );
}

/** Keys, projection maintenance and target preparation. */
function registerKeyAndMaintenanceCommands(program: Command): void {
  const keys = program.command('keys').description('approver and backup keys');
  example(
    keys
      .command('generate <name>')
      .description(
        'an Ed25519 approver key, or with --backup an OpenPGP backup keypair, in $CUTTER_KEYS_DIR or ' +
          '~/.config/cutter/keys',
      )
      .option('--backup', 'an OpenPGP keypair for encrypted backups')
      .action(async (name: string, opts: { backup?: boolean }) =>
        act(program, async (s, out) =>
          (await import('./commands/keys.js')).generate(s, out, name, Boolean(opts.backup)),
        )(),
      ),
    'cutter keys generate alice',
  );
  const projections = program.command('projections').description('read models rebuilt from events');
  example(
    projections
      .command('rebuild')
      .description('truncate and refold every projection from the log')
      .action(async () => act(program, async (s, out) => (await import('./commands/audit.js')).rebuild(s, out))()),
    'cutter projections rebuild',
  );
  example(
    projections
      .command('follow')
      .description('run the async projectors (target activity) from their checkpoints; --once catches up and exits')
      .option('--once', 'catch up and exit')
      .action(async (opts: { once?: boolean }) =>
        act(program, async (s, out) => (await import('./commands/audit.js')).follow(s, out, Boolean(opts.once)))(),
      ),
    'cutter projections follow --once',
  );
  const target = program.command('target').description('configured targets');
  example(
    target
      .command('prepare <name>')
      .description('create the ledger and receipt tables in a target (idempotent)')
      .action(async (name: string) =>
        act(program, async (s, out) => (await import('./commands/run.js')).prepare(s, out, name))(),
      ),
    'cutter target prepare kb',
  );
}

function mode(opts: { dryRun?: boolean; live?: boolean }): 'dry-run' | 'live' {
  if (opts.live) return 'live';
  if (opts.dryRun) return 'dry-run';
  throw new InvalidInputError('mode: pass --dry-run or --live');
}
