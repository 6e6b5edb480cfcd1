// `doctor` as a real process against a local fake Kubernetes API serving recorded installs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../scripts/ops/doctor/run';
import { loadScenario, type Scenario } from './fixtures/k8s/index';
import { type FakeKubeApi, runCommand, startFakeKubeApi } from './support/fake-kube-api';

const DOCTOR = 'scripts/doctor.ts';
/**
 * How long a doctor run may take before the test gives up on it. Generous on purpose: each run is a
 * node + tsx process that compiles the command, and with both cores busy (several at once, under
 * a full suite) that alone took past the former 45 s limit. A limit, never an assertion on speed.
 */
const RUN_LIMIT_MS = 240_000;
const TEST_LIMIT = { timeout: RUN_LIMIT_MS + 30_000 };

// One fake API per scenario, all started up front so the commands can run side by side.
const scenarios: Scenario[] = ['healthy', 'revision-failed', 'secret-missing', 'externalsecret-not-ready', 'zero-endpoints', 'backup-stale'];
const apis = new Map<Scenario, FakeKubeApi>();

beforeAll(async () => {
  for (const s of scenarios) apis.set(s, await startFakeKubeApi({ objects: loadScenario(s) }));
});
afterAll(async () => {
  await Promise.all([...apis.values()].map((a) => a.close()));
});

const doctor = (scenario: Scenario, args: string[] = ['--json']) =>
  runCommand(DOCTOR, ['--env', 'prod', ...args], { env: { KUBECONFIG: apis.get(scenario)!.kubeconfig }, timeoutMs: RUN_LIMIT_MS });

const notPassing = (r: DoctorReport) => r.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.verdict} ${c.id}`);

describe('doctor --json', TEST_LIMIT, () => {
  it('exits 0 on a healthy install with every check passing', async () => {
    const { code, stdout, stderr } = await doctor('healthy');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as DoctorReport;
    expect(report).toMatchObject({ env: 'prod', context: 'fixtures', ok: true, counts: { pass: 24, warn: 0, fail: 0, unknown: 0 } });
  });

  it('exits 1 and names the failing check for each broken install', async () => {
    const results = await Promise.all(
      (['revision-failed', 'secret-missing', 'externalsecret-not-ready', 'zero-endpoints'] as const).map(async (s) => {
        const { code, stdout } = await doctor(s);
        return { s, code, report: JSON.parse(stdout) as DoctorReport };
      }),
    );
    const byScenario = Object.fromEntries(results.map((r) => [r.s, r]));
    for (const r of results) expect(r.code, r.s).toBe(1);
    expect(notPassing(byScenario['revision-failed']!.report)).toEqual(['fail ksvc/backend/tasks-api']);
    expect(notPassing(byScenario['secret-missing']!.report)).toEqual(['fail secret/backend/database-credentials']);
    expect(notPassing(byScenario['externalsecret-not-ready']!.report)).toEqual(['fail secret/backend/database-credentials']);
    expect(notPassing(byScenario['zero-endpoints']!.report)).toEqual(['fail statefulset/database/postgres', 'fail service/database/database']);

    const es = byScenario['externalsecret-not-ready']!.report.checks.find((c) => c.id === 'secret/backend/database-credentials')!;
    expect(es.detail).toContain('AccessDeniedException');
    expect(es.next).toBe(
      'kubectl describe externalsecret aws-sm-database-credentials -n backend && kubectl annotate externalsecret aws-sm-database-credentials -n backend force-sync=$(date +%s) --overwrite',
    );
  });
});

describe('doctor on a stale backup', TEST_LIMIT, () => {
  it('exits 1, names the backup check and the command that runs one now', async () => {
    const { code, stdout } = await doctor('backup-stale');
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as DoctorReport;
    expect(notPassing(report)).toEqual(['fail cronjob/database/tasks-backup']);
    expect(report.checks.find((c) => c.id === 'cronjob/database/tasks-backup')!.next).toContain(
      'kubectl -n database create job --from=cronjob/tasks-backup tasks-backup-manual-$(date +%s)',
    );
  });
});

describe('doctor for people', TEST_LIMIT, () => {
  it('prints ✓ and ✗ lines with the likely cause and the next command', async () => {
    const { code, stdout } = await doctor('zero-endpoints', []);
    expect(code).toBe(1);
    expect(stdout).toContain('  ✓ namespace database  database is Active');
    expect(stdout).toContain('  ✗ Service database has ready endpoints\n      Service database has zero endpoints\n');
    expect(stdout).toContain('      next: kubectl get endpointslices -n database -l kubernetes.io/service-name=database');
    expect(stdout).toContain('      likely cause: the container keeps exiting');
    expect(stdout).toMatch(/Something is wrong\. 24 checks: 22 passed, 2 failed$/m);
    expect(stdout).not.toContain('\x1b['); // NO_COLOR is honoured
  });

  it('reports checks it may not read as not checked (exit 1)', async () => {
    const api = await startFakeKubeApi({ objects: loadScenario('healthy'), forbidden: [{ kind: 'ExternalSecret', namespace: 'frontend' }] });
    try {
      const { code, stdout } = await runCommand(DOCTOR, ['--env', 'prod', '--json'], { env: { KUBECONFIG: api.kubeconfig }, timeoutMs: RUN_LIMIT_MS });
      expect(code).toBe(1);
      const report = JSON.parse(stdout) as DoctorReport;
      expect(notPassing(report)).toEqual(['unknown secret/frontend/internal-token']);
      expect(report.checks.find((c) => c.id === 'secret/frontend/internal-token')!.detail).toContain(
        'externalsecrets.external-secrets.io is forbidden: User "system:serviceaccount:ops:viewer" cannot list resource "externalsecrets"',
      );
    } finally {
      await api.close();
    }
  });

  it('exits 3 with a JSON error when there is no cluster, 2 on bad usage', async () => {
    const [none, usage, help] = await Promise.all([
      runCommand(DOCTOR, ['--env', 'prod', '--json'], { timeoutMs: RUN_LIMIT_MS }),
      runCommand(DOCTOR, [], { timeoutMs: RUN_LIMIT_MS }),
      runCommand(DOCTOR, ['--help'], { timeoutMs: RUN_LIMIT_MS }),
    ]);
    expect(none.code).toBe(3);
    expect(JSON.parse(none.stdout)).toEqual({ error: { reason: 'no-config', message: expect.stringContaining('no cluster configured') } });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--env is required (dev, prod)');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes: 0 all checks pass');
  });
});
