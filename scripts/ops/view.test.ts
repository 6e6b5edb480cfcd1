import { describe, expect, it } from 'vitest';
import { fixtureEnv, fixtureLogs, loadScenario, memoryKube, recordedAt } from '../../test/fixtures/k8s/index';
import { ansiToHtml, stripAnsi, table, truncate, visibleWidth, wrap } from './ansi';
import { runDoctor } from './doctor/run';
import { formatDoctorReport } from './view-doctor';
import { formatScaleView } from './view-scale';
import { takeSnapshot } from './snapshot';
import { targetsFor } from './targets';

describe('formatScaleView', () => {
  it('shows revisions, the pod chart, pod starts and a burst warning', async () => {
    const snap = await takeSnapshot(memoryKube(loadScenario('burst')), 'backend', 'tasks-api', recordedAt);
    const text = formatScaleView(snap, { env: 'prod', color: false, width: 120, windowMs: 300_000, samples: [], events: [] });
    const lines = text.split('\n');
    expect(lines[0]).toBe('tasks-api  namespace backend  env prod  context fixtures  10:00:00 UTC');
    expect(text).toMatch(/tasks-api-00002 +100% +bursting +5 +3 +5 +3 +2 +Proxy +32/);
    expect(text).toContain('activator back in the path while pods serve');
    expect(text).toMatch(/5 ┤ +░$/m);
    expect(text).toMatch(/tasks-api-00002-deployment-6d9f8b7c5d-h4j6d +0.0s +0.0s +ContainerCreating/);
    expect(lines.every((l) => visibleWidth(l) <= 120)).toBe(true);
  });

  it('splits each pod start into its phases, the first request from the API log, and marks the phase that grew', async () => {
    const snap = await takeSnapshot(memoryKube(loadScenario('slow-start'), { logs: fixtureLogs() }), 'backend', 'tasks-api', recordedAt);
    const text = formatScaleView(snap, { env: 'prod', color: false, width: 120, windowMs: 300_000, samples: [], events: [] });
    expect(text).toContain('Pod starts  scheduled → initialized → containers ready → ready (pod conditions, 1 s) → first request answered (API log)');
    expect(text).toMatch(/POD +SCHEDULED +INIT +CONTAINERS +READY +1ST REQUEST +TOTAL +AGE/);
    // TOTAL runs from creation to the first request answered: 2.0 s to Ready plus 7.1 s.
    expect(text).toMatch(/tasks-api-00002-deployment-6d9f8b7c5d-m3n8r +0\.0s +0\.0s +2\.0s +0\.0s +▲ 7\.1s +9\.1s +10s/);
    expect(text).toMatch(/tasks-api-00002-deployment-6d9f8b7c5d-x2k9p +0\.0s +0\.0s +2\.0s +0\.0s +0\.2s +2\.2s/);
    expect(text).toContain('  TOTAL: creation → first request answered; ≥ marks creation → ready where the first request is not known yet');
    expect(text).toContain('  ▲ tasks-api-00002-deployment-6d9f8b7c5d-m3n8r: first request took 7.1s against 0.4s (median of 2 other starts)');
    expect(text).toContain('  ▲ tasks-api-00002-deployment-6d9f8b7c5d-q7w4z: containers ready took 5.0s against 2.0s (median of 2 other starts)');
    expect(text.split('\n').every((l) => visibleWidth(l) <= 120)).toBe(true);

    // A start is also compared with the starts seen earlier in the watch's window: against three
    // earlier first requests of about 0.2 s, the x2k9p pod's 0.2 s has not grown.
    const earlier = ['a', 'b', 'c'].map((k) => ({ pod: `gone-${k}`, revision: 'tasks-api-00002', createdAt: '2026-11-26T09:50:00Z', firstRequestAfter: 0.2, total: 2 }));
    const withHistory = formatScaleView(snap, { env: 'prod', color: false, width: 120, windowMs: 300_000, samples: [], events: [], earlierStarts: earlier });
    expect(withHistory).toContain('first request took 7.1s against 0.2s (median of 5 other starts)');
  });

  it('marks TOTAL as creation → ready, a lower bound, while the first request is not known', async () => {
    const snap = await takeSnapshot(memoryKube(loadScenario('slow-start'), { logs: {} }), 'backend', 'tasks-api', recordedAt);
    const text = formatScaleView(snap, { env: 'prod', color: false, width: 120, windowMs: 300_000, samples: [], events: [] });
    expect(text).toMatch(/tasks-api-00002-deployment-6d9f8b7c5d-m3n8r +0\.0s +0\.0s +2\.0s +0\.0s +- +≥ 2\.0s +10s/);
    expect(text).not.toMatch(/m3n8r .* 9\.1s/);
  });

  it('colours when asked, and the colour codes do not change the layout', async () => {
    const snap = await takeSnapshot(memoryKube(loadScenario('healthy')), 'backend', 'tasks-api', recordedAt);
    const o = { env: 'prod', width: 100, windowMs: 300_000, samples: [], events: [] };
    const colored = formatScaleView(snap, { ...o, color: true });
    expect(colored).toContain('\x1b[32m');
    expect(stripAnsi(colored)).toBe(formatScaleView(snap, { ...o, color: false }));
  });
});

describe('formatDoctorReport', () => {
  it('prints the failing check with its cause and next command, and a summary', async () => {
    const report = await runDoctor(memoryKube(loadScenario('secret-missing')), targetsFor(fixtureEnv), { now: recordedAt });
    const text = formatDoctorReport(report, { color: false });
    expect(text).toContain('  ✗ Secret backend/database-credentials synced\n      Secret missing and no ExternalSecret creates it (from tasks/prod/db-app)\n');
    expect(text).toContain('      likely cause: the secret sync for this namespace was not applied.');
    expect(text).toContain('      next: kubectl apply -f platform/rendered/prod/backend/20-secret-sync.yaml');
    expect(text.trimEnd().split('\n').at(-1)).toBe('Something is wrong. 24 checks: 23 passed, 1 failed');
    expect(text).not.toContain('next: npm run watch:scale'); // passing checks stay one line
    expect(formatDoctorReport(report, { color: false, verbose: true })).toContain('next: npm run watch:scale -- --env prod');
  });
});

describe('ansi helpers', () => {
  it('wraps words with a hanging indent', () => {
    expect(wrap('one two three four five', 10, '  ')).toEqual(['one two', '  three', '  four', '  five']);
  });

  it('truncates by visible width and keeps colour codes balanced', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    const cut = truncate('\x1b[31mabcdef\x1b[39m', 4);
    expect(stripAnsi(cut)).toBe('abc…');
    expect(cut.endsWith('\x1b[0m')).toBe(true);
  });

  it('aligns table columns, right-aligning where asked', () => {
    expect(table([['a', '1', 'x'], ['bbb', '100', 'y']], ['l', 'r', 'l'])).toEqual(['a      1  x', 'bbb  100  y']);
  });
});

describe('ansiToHtml', () => {
  it('turns the colour codes paint writes into styled spans and escapes the text', () => {
    expect(ansiToHtml('\x1b[1mtasks\x1b[22m <ok> \x1b[31m✗\x1b[39m done')).toBe(
      '<span style="font-weight:bold">tasks</span> &lt;ok&gt; <span style="color:#f47067">✗</span> done',
    );
  });
});
