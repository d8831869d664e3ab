/**
 * Progress for long phases: a cli-progress bar on a TTY, nothing otherwise (piped, --json, CI).
 */
import cliProgress from 'cli-progress';

export interface Progress {
  phase(name: string, total: number): void;
  tick(n: number): void;
  done(summary?: string): void;
}

export const silentProgress: Progress = { phase: () => undefined, tick: () => undefined, done: () => undefined };

/** A progress reporter for `stream`: bars on a TTY, silent otherwise. */
export function progressFor(stream: NodeJS.WriteStream, enabled: boolean): Progress {
  if (!enabled || !stream.isTTY) return silentProgress;
  let bar: cliProgress.SingleBar | undefined;
  return {
    phase(name, total) {
      bar?.stop();
      bar = new cliProgress.SingleBar(
        { format: `  ${name.padEnd(18)} {bar} {value}/{total} rows`, stream, hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      );
      bar.start(Math.max(total, 1), 0);
    },
    tick(n) {
      bar?.increment(n);
    },
    done() {
      bar?.stop();
      bar = undefined;
    },
  };
}
