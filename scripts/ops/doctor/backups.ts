// Wave 0's backups: the CronJobs tasks-backup and tasks-restore-check. Each must have succeeded
// within twice its schedule interval (the same threshold as the TasksBackupTooOld alert), and its
// last Job should not have failed. Runbook: platform/backups.md.
import { condition, formatAge, toMillis } from '../conditions';
import type { Kube, KubeObject } from '../kube';
import type { OpsTargets } from '../targets';
import type { Check, CheckContext, Outcome } from './check';

type Target = OpsTargets['backups'][number];

export async function backupChecks({ kube, t, now, inTier }: CheckContext): Promise<Check[]> {
  const checks: Check[] = [];
  for (const target of t.backups) {
    checks.push(
      await inTier(
        'database',
        { id: `cronjob/${target.namespace}/${target.cronJob}`, group: 'backups', title: `${target.what} succeeded within 2× its schedule` },
        () => checkCronJob(kube, t, target, now),
      ),
    );
  }
  return checks;
}

/** The newest Job the CronJob made (by start, else creation time), or undefined. */
function lastJob(jobs: KubeObject[]): KubeObject | undefined {
  const started = (j: KubeObject) => toMillis(j.status?.startTime) ?? toMillis(j.metadata.creationTimestamp) ?? 0;
  return [...jobs].sort((a, b) => started(b) - started(a))[0];
}

/** "tasks-backup-29871234 failed: DeadlineExceeded (Job was active longer than specified deadline)", or ''. */
function jobFailure(job: KubeObject | undefined): string {
  const failed = condition(job, 'Failed');
  if (!job || failed?.status !== 'True') return '';
  return `${job.metadata.name} failed: ${failed.reason ?? 'Failed'}${failed.message ? ` (${failed.message})` : ''}`;
}

async function checkCronJob(kube: Kube, t: OpsTargets, target: Target, now: number): Promise<Outcome> {
  const { namespace: ns, cronJob: name, what, schedule, intervalMs } = target;
  const limitMs = 2 * intervalMs;
  const runNow = `kubectl -n ${ns} create job --from=cronjob/${name} ${name}-manual-$(date +%s)`;
  const cronJob = await kube.get('CronJob', ns, name);
  if (!cronJob) {
    return {
      verdict: 'fail',
      detail: `no CronJob ${name} in ${ns}: nothing takes ${what}s`,
      next: `kubectl apply -f ${t.manifests.database}/40-backups.yaml`,
      cause: 'the database tier (wave 0) was applied from an older render, or the CronJob was deleted',
    };
  }
  const job = lastJob(await kube.list('Job', ns, `app.kubernetes.io/name=${name}`));
  const failure = jobFailure(job);
  const logs = job ? `kubectl -n ${ns} logs job/${job.metadata.name} --all-containers` : `kubectl -n ${ns} describe cronjob ${name}`;
  const active: unknown[] = Array.isArray(cronJob.status?.active) ? cronJob.status.active : [];
  const lastSuccess = toMillis(cronJob.status?.lastSuccessfulTime);
  const lastSchedule = toMillis(cronJob.status?.lastScheduleTime);
  const parts = [
    lastSchedule === undefined ? 'never scheduled' : `last scheduled ${formatAge(now - lastSchedule)} ago`,
    ...(active.length ? [`${active.length} running`] : []),
    ...(failure ? [failure] : []),
  ];
  const rule = `schedule ${schedule}, alert after ${formatAge(limitMs)}`;
  const suspended = cronJob.spec?.suspend === true;
  const likelyCause = suspended
    ? 'the CronJob is suspended (spec.suspend: true), left so after a restore'
    : failure
      ? `the ${what} fails: its log names the cause (S3 access, the database, a deadline)`
      : 'the CronJob controller did not start it (startingDeadlineSeconds missed, a quota, or the previous run still active)';

  if (lastSuccess === undefined) {
    const created = toMillis(cronJob.metadata.creationTimestamp) ?? now;
    const young = now - created < limitMs && !failure;
    return {
      verdict: young ? 'warn' : 'fail',
      detail: `${what} never succeeded (CronJob created ${formatAge(now - created)} ago; ${parts.join(', ')}; ${rule})`,
      next: `${logs} && ${runNow}`,
      cause: young ? 'just installed: the first run has not finished yet' : likelyCause,
    };
  }
  const age = now - lastSuccess;
  if (age > limitMs || suspended) {
    return {
      verdict: 'fail',
      detail: `last good ${what} ${formatAge(age)} ago, ${suspended ? 'CronJob suspended' : `older than 2× the schedule (${formatAge(limitMs)})`}; ${parts.join(', ')}`,
      next: suspended ? `kubectl -n ${ns} patch cronjob ${name} -p '{"spec":{"suspend":false}}' && ${runNow}` : `${logs} && ${runNow}`,
      cause: likelyCause,
    };
  }
  if (failure) {
    return {
      verdict: 'warn',
      detail: `last good ${what} ${formatAge(age)} ago, but the last run failed: ${parts.join(', ')}`,
      next: logs,
      cause: likelyCause,
    };
  }
  return { verdict: 'pass', detail: `last good ${what} ${formatAge(age)} ago; ${parts.join(', ')} (${rule})` };
}
