import { describe, expect, it } from 'vitest';
import { fixtureEnv, loadScenario, memoryKube, recordedAt, type Scenario } from '../../../test/fixtures/k8s/index';
import { type DoctorReport, runDoctor } from './run';
import { revisionCause } from './api';
import { clusterHosts } from './config-hosts';
import type { MemoryKubeOptions } from '../../../test/fixtures/k8s/index';
import { targetsFor } from '../targets';

const targets = targetsFor(fixtureEnv);
const doctor = (scenario: Scenario, options?: MemoryKubeOptions) =>
  runDoctor(memoryKube(loadScenario(scenario), options), targets, { now: recordedAt });
const check = (report: DoctorReport, id: string) => {
  const c = report.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in ${report.checks.map((x) => x.id).join(', ')}`);
  return c;
};
const failing = (report: DoctorReport) => report.checks.filter((c) => c.verdict !== 'pass').map((c) => c.id);

describe('doctor on recorded installs', () => {
  it('passes every check on a healthy install', async () => {
    const report = await doctor('healthy');
    expect(failing(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checks).toHaveLength(24);
    expect(check(report, 'cluster').detail).toContain('v1.33.2');
    expect(check(report, 'secret/backend/database-credentials').detail).toBe('from tasks/prod/db-app, last sync 40s ago');
    expect(check(report, 'configmap/backend/tasks-api-config').detail).toContain('DB_HOST → database.database.svc.cluster.local');
    expect(check(report, 'configmap/frontend/web-config').detail).toContain('API_UPSTREAM → tasks-api.backend.svc.cluster.local');
    expect(check(report, 'ksvc/backend/tasks-api').detail).toContain('serving tasks-api-00002, steady, 2/2 pods');
    expect(check(report, 'networkpolicies/backend')).toMatchObject({ verdict: 'pass', detail: '5 present, default deny' });
  });

  it('passes the backups of a healthy install with their ages against twice the schedule', async () => {
    const report = await doctor('healthy');
    expect(check(report, 'cronjob/database/tasks-backup').detail).toBe(
      'last good backup 13m48s ago; last scheduled 15m00s ago (schedule */15 * * * *, alert after 30m00s)',
    );
    expect(check(report, 'cronjob/database/tasks-restore-check').detail).toContain('last good restore check 3h16m ago');
  });

  it('fails a backup older than twice its schedule, with the failed Job, its logs and a run now', async () => {
    const report = await doctor('backup-stale');
    expect(failing(report)).toEqual(['cronjob/database/tasks-backup']);
    const c = check(report, 'cronjob/database/tasks-backup');
    expect(c.verdict).toBe('fail');
    expect(c.detail).toBe(
      'last good backup 1h13m ago, older than 2× the schedule (30m00s); last scheduled 15m00s ago, tasks-backup-29885655 failed: BackoffLimitExceeded (Job has reached the specified backoff limit)',
    );
    expect(c.next).toBe(
      'kubectl -n database logs job/tasks-backup-29885655 --all-containers && kubectl -n database create job --from=cronjob/tasks-backup tasks-backup-manual-$(date +%s)',
    );
    expect(c.cause).toMatch(/its log names the cause/);
  });

  it('warns when the last restore check failed but an earlier one is recent enough', async () => {
    const report = await doctor('restore-check-failed');
    const c = check(report, 'cronjob/database/tasks-restore-check');
    expect(c.verdict).toBe('warn');
    expect(c.detail).toContain('but the last run failed');
    expect(c.next).toBe('kubectl -n database logs job/tasks-restore-check-29885440 --all-containers');
  });

  it('says a backup that never succeeded, and a missing or suspended CronJob', async () => {
    const objects = loadScenario('healthy');
    const cron = objects.find((o) => o.kind === 'CronJob' && o.metadata.name === 'tasks-backup')!;
    delete cron.status.lastSuccessfulTime;
    const never = await runDoctor(memoryKube(objects), targets, { now: recordedAt });
    expect(check(never, 'cronjob/database/tasks-backup')).toMatchObject({ verdict: 'fail', detail: expect.stringMatching(/^backup never succeeded \(CronJob created 6d ago/) });
    // Just installed: the first run may still be on its way.
    const young = await runDoctor(memoryKube(objects), targets, { now: Date.parse('2026-11-20T08:10:00Z') });
    expect(check(young, 'cronjob/database/tasks-backup').verdict).toBe('warn');
    cron.status.lastSuccessfulTime = '2026-11-26T09:46:12Z';
    cron.spec.suspend = true;
    const suspended = check(await runDoctor(memoryKube(objects), targets, { now: recordedAt }), 'cronjob/database/tasks-backup');
    expect(suspended).toMatchObject({ verdict: 'fail', cause: expect.stringContaining('suspended') });
    expect(suspended.next).toContain(`patch cronjob tasks-backup -p '{"spec":{"suspend":false}}'`);
    const gone = await runDoctor(memoryKube(objects.filter((o) => o !== cron)), targets, { now: recordedAt });
    expect(check(gone, 'cronjob/database/tasks-backup')).toMatchObject({ verdict: 'fail', next: 'kubectl apply -f platform/rendered/prod/database/40-backups.yaml' });
  });

  it('treats scale to zero as healthy and says what it means', async () => {
    const report = await doctor('scaled-to-zero');
    expect(report.ok).toBe(true);
    expect(check(report, 'ksvc/backend/tasks-api').detail).toContain('scaled to zero (the next request cold-starts a pod)');
  });

  it('explains a failed revision with the next command and the cause', async () => {
    const report = await doctor('revision-failed');
    expect(failing(report)).toEqual(['ksvc/backend/tasks-api']);
    const c = check(report, 'ksvc/backend/tasks-api');
    expect(c.verdict).toBe('fail');
    expect(c.detail).toContain('ConfigurationsReady=False (RevisionFailed)');
    expect(c.detail).toContain('revision tasks-api-00003: ExitCode1: Container failed with: Error: Cannot find module');
    expect(c.detail).toContain('traffic stays on tasks-api-00002');
    expect(c.next).toBe(
      'kubectl describe revision tasks-api-00003 -n backend && kubectl logs -n backend -l serving.knative.dev/revision=tasks-api-00003 -c api --tail=50',
    );
    expect(c.cause).toMatch(/container exits on start/);
  });

  it('finds a Secret that was never synced into the namespace', async () => {
    const report = await doctor('secret-missing');
    expect(failing(report)).toEqual(['secret/backend/database-credentials']);
    const c = check(report, 'secret/backend/database-credentials');
    expect(c.detail).toBe('Secret missing and no ExternalSecret creates it (from tasks/prod/db-app)');
    expect(c.next).toBe('kubectl apply -f platform/rendered/prod/backend/20-secret-sync.yaml');
    expect(c.cause).toContain('Secrets never cross namespaces');
    expect(report.ok).toBe(false);
  });

  it('reports an ExternalSecret that stopped syncing, with the AWS error', async () => {
    const report = await doctor('externalsecret-not-ready');
    const c = check(report, 'secret/backend/database-credentials');
    expect(c.verdict).toBe('fail');
    expect(c.detail).toMatch(/^ExternalSecret aws-sm-database-credentials not Ready: SecretSyncedError: could not get secret data .*AccessDeniedException.* \(last sync 2h48m ago\)$/);
    expect(c.next).toContain('force-sync=$(date +%s)');
    expect(c.cause).toContain('the IAM role for backend may not read it');
  });

  it('warns when a Ready ExternalSecret has not refreshed for several intervals', async () => {
    const objects = loadScenario('healthy');
    const es = objects.find((o) => o.kind === 'ExternalSecret' && o.metadata.namespace === 'frontend')!;
    es.status.refreshTime = '2026-11-26T09:30:00Z';
    const report = await runDoctor(memoryKube(objects), targets, { now: recordedAt });
    const c = check(report, 'secret/frontend/internal-token');
    expect(c).toMatchObject({ verdict: 'warn', detail: expect.stringContaining('last sync 30m00s ago, refreshInterval 1m00s') });
    expect(report.ok).toBe(true); // a warning is worth reading, not a failure
  });

  it('traces zero endpoints back to the crash-looping database pod', async () => {
    const report = await doctor('zero-endpoints');
    expect(failing(report)).toEqual(['statefulset/database/postgres', 'service/database/database']);
    expect(check(report, 'statefulset/database/postgres')).toMatchObject({
      detail: '0/1 pods ready (postgres-0: CrashLoopBackOff)',
      cause: expect.stringContaining('keeps exiting'),
    });
    const endpoints = check(report, 'service/database/database');
    expect(endpoints.detail).toBe('Service database has zero endpoints');
    expect(endpoints.next).toBe(
      'kubectl get endpointslices -n database -l kubernetes.io/service-name=database && kubectl get pods -n database -l app.kubernetes.io/name=postgres',
    );
  });

  it('fails the Knative check when the service is not deployed', async () => {
    const report = await doctor('no-service');
    expect(check(report, 'ksvc/backend/tasks-api')).toMatchObject({ verdict: 'fail', detail: 'no Knative Service tasks-api in backend' });
    // The web ConfigMap points at it, so its DNS name no longer resolves either.
    expect(check(report, 'configmap/frontend/web-config')).toMatchObject({
      verdict: 'fail',
      detail: 'API_UPSTREAM=tasks-api.backend.svc.cluster.local: no Service tasks-api in namespace backend',
    });
  });

  it('skips what lives in a missing namespace instead of failing it ten times', async () => {
    const objects = loadScenario('healthy').filter((o) => o.metadata.namespace !== 'frontend' && o.metadata.name !== 'frontend');
    const report = await runDoctor(memoryKube(objects), targets, { now: recordedAt });
    expect(check(report, 'namespace/frontend')).toMatchObject({ verdict: 'fail', next: 'kubectl apply -f platform/rendered/prod/frontend/' });
    expect(check(report, 'deployment/frontend/web')).toMatchObject({ verdict: 'unknown', detail: 'not checked: namespace frontend is missing' });
    expect(report.counts.fail).toBe(1);
  });

  it('checks that the port next to a host is one its Service exposes', async () => {
    const objects = loadScenario('healthy');
    objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'tasks-api-config')!.data!.DB_PORT = '5433';
    const report = await runDoctor(memoryKube(objects), targets, { now: recordedAt });
    expect(check(report, 'configmap/backend/tasks-api-config')).toMatchObject({
      verdict: 'fail',
      detail: 'DB_PORT=5433, but Service database exposes 5432',
    });
  });

  it('reports missing NetworkPolicies by name', async () => {
    const objects = loadScenario('healthy').filter((o) => !(o.kind === 'NetworkPolicy' && o.metadata.name === 'allow-api-to-database'));
    const report = await runDoctor(memoryKube(objects), targets, { now: recordedAt });
    expect(check(report, 'networkpolicies/backend')).toMatchObject({
      verdict: 'fail',
      detail: 'missing allow-api-to-database (4 present)',
      cause: expect.stringContaining('blocks that path'),
    });
  });

  it('marks checks it may not read as unknown, naming the permission', async () => {
    const report = await doctor('healthy', { forbidden: [{ kind: 'NetworkPolicy', namespace: 'database' }] });
    expect(check(report, 'networkpolicies/database')).toMatchObject({
      verdict: 'unknown',
      detail: expect.stringContaining('403'),
      cause: expect.stringContaining('read-only role'),
    });
    expect(report.ok).toBe(false);
  });

  it('carries on when Namespace objects are not readable, as with a namespace-scoped role', async () => {
    const report = await doctor('healthy', { forbidden: [{ kind: 'Namespace' }] });
    expect(check(report, 'namespace/backend')).toMatchObject({ verdict: 'warn', detail: expect.stringContaining('cannot read Namespace objects (403)') });
    expect(report.counts).toEqual({ pass: 21, warn: 3, fail: 0, unknown: 0 });
    expect(report.ok).toBe(true);
  });

  it("judges the Knative Service without Knative's internal kinds", async () => {
    const report = await doctor('healthy', { forbidden: [{ kind: 'PodAutoscaler' }, { kind: 'ServerlessService' }] });
    expect(check(report, 'ksvc/backend/tasks-api')).toMatchObject({ verdict: 'pass', detail: expect.stringContaining('serving tasks-api-00002, scale unknown') });
  });

  it('still judges a synced Secret when Secrets themselves are not readable', async () => {
    const report = await doctor('healthy', { forbidden: [{ kind: 'Secret' }] });
    const c = check(report, 'secret/backend/internal-token');
    expect(c.verdict).toBe('pass');
    expect(c.detail).toContain('Secret itself not readable');
  });
});

describe('clusterHosts', () => {
  it('finds service DNS names and flags bare host names', () => {
    expect(
      clusterHosts({
        DB_HOST: 'database.database.svc.cluster.local',
        API_UPSTREAM: 'http://tasks-api.backend.svc.cluster.local:80/',
        CACHE_HOST: 'redis',
        LOG_LEVEL: 'info',
      }),
    ).toEqual([
      { key: 'DB_HOST', host: 'database.database.svc.cluster.local', service: 'database', namespace: 'database' },
      { key: 'API_UPSTREAM', host: 'tasks-api.backend.svc.cluster.local', service: 'tasks-api', namespace: 'backend' },
      { key: 'CACHE_HOST', host: 'redis', service: 'redis' },
    ]);
  });
});

describe('revisionCause', () => {
  it('names the usual suspects', () => {
    expect(revisionCause('ImagePullBackOff: Back-off pulling image')).toMatch(/image tag/);
    expect(revisionCause('ProgressDeadlineExceeded: Initial scale was never achieved')).toMatch(/never became ready/);
    expect(revisionCause('MountVolume.SetUp failed for volume "database-credentials": secret "database-credentials" not found')).toMatch(/Secret the pod mounts/);
    expect(revisionCause('something new')).toBe('see the revision conditions and the pod events');
  });
});
