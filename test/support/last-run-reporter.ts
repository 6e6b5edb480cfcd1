// The count and duration of the last full `npm test`, written into test/README.md between its
// `tests:last-run` markers by the run itself, so no one types the figure (vitest Reporter API:
// https://vitest.dev/advanced/api/reporters). Other runs (a file, a filter, `npx vitest`) write nothing.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { Reporter, TestModule, TestRunEndReason } from 'vitest/node';

const readme = new URL('../README.md', import.meta.url);
export const LAST_RUN_MARKERS = { start: '<!-- tests:last-run: written by npm test -->', end: '<!-- /tests:last-run -->' } as const;

/** `npm test` itself: npm names the script, and vitest got `run` and nothing else (no file, no filter). */
export function isFullNpmTest(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv): boolean {
  return env.npm_lifecycle_event === 'test' && argv.slice(2).join(' ') === 'run';
}

/** The sentence the markers hold: tests passed and skipped, minutes, the machine and its load. */
export function lastRunLine(counts: { passed: number; skipped: number }, minutes: number, date: Date, load: [number, number]): string {
  const skipped = counts.skipped ? `, ${counts.skipped.toLocaleString('en')} skipped` : '';
  return (
    `Last full \`npm test\`: ${counts.passed.toLocaleString('en')} tests passed${skipped} in ${Math.round(minutes)} minutes on ` +
    `${date.toISOString().slice(0, 10)}, ${cpus().length} cores, load average ${load[0].toFixed(1)} → ${load[1].toFixed(1)}.`
  );
}

export default class LastRunReporter implements Reporter {
  private started = 0;
  private loadAtStart = 0;

  onTestRunStart(): void {
    this.started = performance.now();
    this.loadAtStart = loadavg()[0]!;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, _errors: unknown, reason: TestRunEndReason): void {
    if (reason !== 'passed' || !isFullNpmTest()) return;
    const counts = { passed: 0, skipped: 0 };
    for (const module of modules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'skipped') counts.skipped++;
      }
    }
    const text = readFileSync(readme, 'utf8');
    const a = text.indexOf(LAST_RUN_MARKERS.start);
    const b = text.indexOf(LAST_RUN_MARKERS.end);
    if (a < 0 || b < a) return;
    const line = lastRunLine(counts, (performance.now() - this.started) / 60_000, new Date(), [this.loadAtStart, loadavg()[0]!]);
    writeFileSync(readme, `${text.slice(0, a)}${LAST_RUN_MARKERS.start}\n${line}\n${text.slice(b)}`);
  }
}
