import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

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
