import { describe, expect, it } from 'vitest';
import { fixtureEnv, loadScenario, memoryKube, recordedAt } from '../../test/fixtures/k8s/index';
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
    expect(text).toMatch(/tasks-api-00002-deployment-6d9f8b7c5d-h4j6d +0.0s +ContainerCreating/);
    expect(lines.every((l) => visibleWidth(l) <= 120)).toBe(true);
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
