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

/** Word-wrap plain text to `width` columns; continuation lines get `indent`. */
export function wrap(text: string, width: number, indent = ''): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const candidate = line ? `${line} ${word}` : word;
    if (line && [...candidate].length > width - (lines.length ? indent.length : 0)) {
      lines.push(line);
      line = word;
    } else {
      line = candidate;
    }
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i ? indent + l : l));
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

const htmlColors: Record<number, string> = {
  31: '#f47067',
  32: '#57ab5a',
  33: '#c69026',
  34: '#539bf5',
  35: '#b083f0',
  36: '#39c5cf',
};

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Terminal output with the colour codes `paint` writes, as HTML spans (for rendering captures). */
export function ansiToHtml(text: string): string {
  let color: string | undefined;
  let bold = false;
  let dim = false;
  let out = '';
  for (const part of text.split(/(\x1b\[[0-9;]*m)/)) {
    const m = /^\x1b\[([0-9;]*)m$/.exec(part);
    if (m) {
      for (const code of (m[1] || '0').split(';').map(Number)) {
        if (code === 0) [color, bold, dim] = [undefined, false, false];
        else if (code === 1) bold = true;
        else if (code === 2) dim = true;
        else if (code === 22) [bold, dim] = [false, false];
        else if (code === 39) color = undefined;
        else if (htmlColors[code]) color = htmlColors[code];
      }
      continue;
    }
    if (!part) continue;
    const style = [color ? `color:${color}` : '', bold ? 'font-weight:bold' : '', dim ? 'opacity:0.6' : ''].filter(Boolean).join(';');
    out += style ? `<span style="${style}">${escapeHtml(part)}</span>` : escapeHtml(part);
  }
  return out;
}
