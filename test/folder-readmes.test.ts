// Every folder README's file table matches the folder: every tracked file in it is listed (by name,
// as a folder `dir/`, or by a pattern such as `*.test.ts` or `<env>/eso-*.json`), and every row
// names something that exists. A subfolder with a README of its own is listed as `dir/` and
// checked on its own.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const tracked = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter(Boolean);
/** Folders that must have a README; every README below the root is checked, these and any other. */
const folders = ['functions/api', 'functions/rotate-secrets', 'web', 'platform', 'secrets', 'scripts', 'test', 'bench'];
const readmes = tracked.filter((f) => f.endsWith('/README.md'));
const folderOf = (readme: string) => readme.slice(0, -'README.md'.length);

/**
 * Backticked paths in the file column of each file table: a table whose first or second column is
 * headed "file" or "path" (a later "file" column, as in platform/README.md's resources, names
 * rendered output, not this folder's files). Paths starting with ../ point elsewhere and are skipped.
 */
function listedPaths(markdown: string): string[] {
  const out: string[] = [];
  let column = -1;
  const lines = markdown.split('\n');
  const cells = (line: string) => line.split('|').slice(1, -1).map((c) => c.trim());
  lines.forEach((line, i) => {
    if (!line.startsWith('|')) {
      column = -1;
      return;
    }
    if (lines[i + 1]?.startsWith('| ---')) {
      column = cells(line).slice(0, 2).findIndex((h) => /\b(file|path)\b/.test(h));
      return;
    }
    if (column < 0 || line.startsWith('| ---')) return;
    for (const m of (cells(line)[column] ?? '').matchAll(/`([^`]+)`/g)) if (!m[1]!.startsWith('../')) out.push(m[1]!);
  });
  return out;
}

const escape = (text: string) => text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/**
 * `<env>` and `*` stand for one path segment or part of one; `{a,b}` for either alternative
 * (shell brace syntax); `dir/` for everything under it.
 */
function matcher(item: string): RegExp {
  const body = item
    .split(/(<[^>]+>|\*|\{[^}]+\})/)
    .map((part) => {
      if (part === '*' || /^<[^>]+>$/.test(part)) return '[^/]+';
      if (/^\{[^}]+\}$/.test(part)) return `(?:${part.slice(1, -1).split(',').map(escape).join('|')})`;
      return escape(part);
    })
    .join('');
  return new RegExp(`^${body}${item.endsWith('/') ? '.*' : ''}$`);
}

describe('folder READMEs', () => {
  it('exist for the folders they describe', () => {
    expect(readmes).toEqual(expect.arrayContaining(folders.map((d) => `${d}/README.md`)));
  });

  it.each(readmes)('%s lists exactly the files present', (readme) => {
    const folder = folderOf(readme);
    const ownReadmes = readmes.filter((r) => r !== readme && r.startsWith(folder)).map(folderOf);
    const files = tracked
      .filter((f) => f.startsWith(folder) && f !== readme)
      .map((f) => f.slice(folder.length))
      // A subfolder with its own README stands for all its files.
      .map((f) => {
        const sub = ownReadmes.find((d) => `${folder}${f}`.startsWith(d));
        return sub ? sub.slice(folder.length) : f;
      });
    const items = listedPaths(readFileSync(`${root}${readme}`, 'utf8'));
    const patterns = items.map((item) => ({ item, re: matcher(item) }));
    const unlisted = [...new Set(files)].filter((f) => !patterns.some((p) => p.re.test(f)));
    const stale = patterns.filter((p) => !files.some((f) => p.re.test(f))).map((p) => p.item);
    expect({ unlisted, stale }).toEqual({ unlisted: [], stale: [] });
  });
});
