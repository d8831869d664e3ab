/**
 * How the CLI speaks: human text by default, `--json` for machines (stdout holds only JSON,
 * diagnostics go to stderr), colour only on a TTY without NO_COLOR.
 */
export interface Output {
  json: boolean;
  /** Prints a result: the JSON value under --json, else the human text. */
  result(value: unknown, human: () => string): void;
  /** A diagnostic line on stderr (never under --json on stdout). */
  info(line: string): void;
  color: Colors;
  isTTY: boolean;
}

export interface Colors {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

export function makeOutput(opts: { json: boolean; stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream }): Output {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const isTTY = Boolean(stdout.isTTY) && !opts.json;
  const colorOn = isTTY && !process.env.NO_COLOR;
  return {
    json: opts.json,
    isTTY,
    color: colors(colorOn),
    result(value, human) {
      stdout.write(opts.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
    },
    info(line) {
      stderr.write(`${line}\n`);
    },
  };
}

export function colors(on: boolean): Colors {
  const wrap = (open: number, close: number) => (s: string) => (on ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    green: wrap(32, 39),
    red: wrap(31, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
  };
}

/** A plain text table: header row, then rows, columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
