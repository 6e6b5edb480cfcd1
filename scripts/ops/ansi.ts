// Terminal colours that switch off cleanly: for pipes, for NO_COLOR, and for tests.

export interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  blue(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
}

const sgr = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;

export function paint(enabled: boolean): Paint {
  const plain = (s: string) => s;
  if (!enabled) {
    return { bold: plain, dim: plain, red: plain, green: plain, yellow: plain, blue: plain, cyan: plain, magenta: plain };
  }
  return {
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    blue: sgr(34, 39),
    cyan: sgr(36, 39),
    magenta: sgr(35, 39),
  };
}

/** Colour when writing to a terminal, unless NO_COLOR is set; FORCE_COLOR turns it on anyway. */
export function wantColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}

// eslint-disable-next-line no-control-regex
const ansiPattern = /\x1b\[[0-9;]*[A-Za-z]/g;

export function stripAnsi(s: string): string {
  return s.replace(ansiPattern, '');
}

/** Characters on screen, ignoring colour codes. */
export function visibleWidth(s: string): number {
  return [...stripAnsi(s)].length;
}

export function padEnd(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - visibleWidth(s)));
}

export function padStart(s: string, width: number): string {
  return ' '.repeat(Math.max(0, width - visibleWidth(s))) + s;
}

/** Cut a line to `width` visible characters, keeping colour codes intact. */
export function truncate(s: string, width: number): string {
  if (visibleWidth(s) <= width) return s;
  let out = '';
  let seen = 0;
  for (let i = 0; i < s.length; ) {
    const m = s[i] === '\x1b' ? /^\x1b\[[0-9;]*[A-Za-z]/.exec(s.slice(i)) : null;
    if (m) {
      out += m[0];
      i += m[0].length;
      continue;
    }
    const ch = String.fromCodePoint(s.codePointAt(i)!);
    if (seen >= width - 1) {
      out += '…';
      break;
    }
    out += ch;
    seen++;
    i += ch.length;
  }
  return out + (s.includes('\x1b[') ? '\x1b[0m' : '');
}

/** A table: columns padded to their widest cell; `align` 'r' right-aligns numbers. */
export function table(rows: string[][], align: ('l' | 'r')[] = [], gap = 2): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleWidth(cell))));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 && align[i] !== 'r' ? cell : align[i] === 'r' ? padStart(cell, widths[i]!) : padEnd(cell, widths[i]!)))
      .join(' '.repeat(gap))
      .trimEnd(),
  );
}
