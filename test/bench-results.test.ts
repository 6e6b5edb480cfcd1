import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sectionOf, withSection } from '../bench/results-sections';

const START = '<!-- bench:measured: written by npm run bench -- --save from bench/results.md -->';
const END = '<!-- /bench:measured -->';
const block = (file: URL) => {
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  expect(a, `${file.pathname} has the ${START} marker`).toBeGreaterThanOrEqual(0);
  expect(b, `${file.pathname} has the ${END} marker after it`).toBeGreaterThan(a);
  return text.slice(a + START.length, b).trim();
};

/** Issue 22: the README's "Measured" table comes from a saved bench run, not from an edit. */
describe('the README quotes the saved bench run', () => {
  it('holds exactly the measured block of bench/results.md', () => {
    const saved = block(new URL('../bench/results.md', import.meta.url));
    expect(saved).toMatch(/^Measured \d{4}-\d{2}-\d{2} on /);
    expect(saved).toContain('| figure | baseline | bare Hono | tasks API |');
    expect(block(new URL('../README.md', import.meta.url))).toBe(saved);
  });
});

describe('bench/results.md: each section written by its tool, and only there', () => {
  const results = readFileSync(new URL('../bench/results.md', import.meta.url), 'utf8');

  it('marks the sections other tools write with the command that writes them', () => {
    expect(sectionOf(results, 'images')).toMatch(/^<!-- images: written by bench\/image-start\.ts -->/);
    expect(sectionOf(results, 'backups')).toMatch(/^<!-- backups: written by npx tsx bench\/backup\.ts --save -->/);
    expect(sectionOf(results, 'local-start')).toMatch(/^<!-- local-start: written by npx tsx bench\/local-start\.ts --save -->\n## Local start/);
    // A tool replaces its own section and keeps the others as they were.
    const replaced = withSection(results, 'backups', '<!-- backups: written by test -->\nnew\n<!-- /backups -->');
    expect(sectionOf(replaced, 'backups')).toBe('<!-- backups: written by test -->\nnew\n<!-- /backups -->');
    expect(sectionOf(replaced, 'images')).toBe(sectionOf(results, 'images'));
    expect(withSection('# r\n', 'x', '<!-- x: written by t -->\n<!-- /x -->')).toBe('# r\n\n<!-- x: written by t -->\n<!-- /x -->\n');
  });

  // Before, the README typed the local start times in by hand ("1.7–1.8 s … 0.9 s"), measured by nothing.
  it('the README gives no start-up time of its own: it links to the local-start section', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const intro = readme.slice(0, readme.indexOf('## Commands'));
    expect(intro).not.toMatch(/\d(\.\d+)?(–\d(\.\d+)?)? s\b/);
    expect(intro).toContain('[bench/results.md, Local start](bench/results.md#local-start-npm-start)');
  });

  it('the README copies none of its figures by hand: only the generated Measured block quotes it', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const outsideBlock = readme.slice(0, readme.indexOf(START)) + readme.slice(readme.indexOf(END));
    const rows = results.split('\n').filter((line) => line.startsWith('| ') && /\d/.test(line) && !line.includes('---'));
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.filter((row) => outsideBlock.includes(row))).toEqual([]);
  });
});
