import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isFullNpmTest, LAST_RUN_MARKERS, lastRunLine } from './support/last-run-reporter';

describe('the last-run reporter', () => {
  it('writes only for npm test with no file or filter', () => {
    const vitest = ['node', 'vitest.mjs'];
    expect(isFullNpmTest({ npm_lifecycle_event: 'test' }, [...vitest, 'run'])).toBe(true);
    expect(isFullNpmTest({ npm_lifecycle_event: 'test' }, [...vitest, 'run', 'test/start.test.ts'])).toBe(false);
    expect(isFullNpmTest({ npm_lifecycle_event: 'test' }, [...vitest, 'run', '-t', 'rotation'])).toBe(false);
    expect(isFullNpmTest({}, [...vitest, 'run'])).toBe(false);
    expect(isFullNpmTest({ npm_lifecycle_event: 'test:images' }, [...vitest, 'run'])).toBe(false);
  });

  it('says how many passed, how long it took, when and under what load', () => {
    const line = lastRunLine({ passed: 1187, skipped: 0 }, 13.6, new Date('2026-12-07T10:00:00Z'), [1.64, 4.2]);
    expect(line).toMatch(/^Last full `npm test`: 1,187 tests passed in 14 minutes on 2026-12-07, \d+ cores, load average 1\.6 → 4\.2\.$/);
    expect(lastRunLine({ passed: 10, skipped: 2 }, 1, new Date(), [0, 0])).toContain('10 tests passed, 2 skipped');
  });

  it('has its block in test/README.md', () => {
    const text = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    expect(text.indexOf(LAST_RUN_MARKERS.start)).toBeGreaterThan(0);
    expect(text.indexOf(LAST_RUN_MARKERS.end)).toBeGreaterThan(text.indexOf(LAST_RUN_MARKERS.start));
  });
});
