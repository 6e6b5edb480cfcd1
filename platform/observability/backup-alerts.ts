// The backups' alert rules as a Prometheus Operator PrometheusRule, rendered per environment from the
// values: each threshold is twice the CronJob's schedule interval (platform/schedule.ts), so changing
// a schedule moves its alert with it. Rendered by `npm run render` to observability/rendered/<env>/;
// applied where the Prometheus Operator runs, like the PodMonitors beside this file.
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import type { Values } from '../values';
import { scheduleIntervalSeconds } from '../schedule';
import { meta, type Rendered } from '../templates/common';

/** Prometheus duration for whole seconds: 1800 → "30m", 43200 → "12h", 90 → "90s". */
export function promDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

interface Watched {
  alert: string;
  what: string;
  /** The Pushgateway job the command pushes as, and its last-success gauge. */
  pushJob: string;
  metric: string;
  cronJob: string;
  schedule: string;
}

export function backupAlerts(values: Values): Rendered[] {
  const ns = values.namespaces.database;
  const b = values.backups;
  const runbook = 'platform/backups.md';
  const watched: Watched[] = [
    { alert: 'TasksBackupTooOld', what: 'backup', pushJob: 'tasks-backup', metric: 'tasks_backup_last_success_timestamp_seconds', cronJob: b.backup.cronJobName, schedule: b.backup.schedule },
    {
      alert: 'TasksRestoreCheckTooOld',
      what: 'restore check',
      pushJob: 'tasks-restore-check',
      metric: 'tasks_restore_check_last_success_timestamp_seconds',
      cronJob: b.restoreCheck.cronJobName,
      schedule: b.restoreCheck.schedule,
    },
  ];
  const rules = watched.flatMap((w) => {
    const limit = 2 * scheduleIntervalSeconds(w.schedule);
    const series = `${w.metric}{job="${w.pushJob}"}`;
    const common = { labels: { severity: 'critical', namespace: ns, cronjob: w.cronJob } };
    const next = `kubectl -n ${ns} create job --from=cronjob/${w.cronJob} ${w.cronJob}-manual-$(date +%s); see ${runbook}`;
    return [
      {
        alert: w.alert,
        expr: `time() - max(${series}) > ${limit}`,
        ...common,
        annotations: {
          summary: `The last good ${w.what} is older than ${promDuration(limit)} (twice its schedule ${w.schedule})`,
          description: `{{ $value | humanizeDuration }} since the last successful ${w.what} in ${ns}. ${next}`,
        },
      },
      {
        // No gauge at all: the Pushgateway lost it, or nothing ever succeeded since it started.
        alert: `${w.alert.replace(/TooOld$/, '')}Missing`,
        expr: `absent(${series})`,
        for: promDuration(limit),
        ...common,
        annotations: {
          summary: `No ${w.metric} for ${promDuration(limit)}: no ${w.what} has reported success`,
          description: `Check the Pushgateway and the CronJob ${ns}/${w.cronJob}. ${next}`,
        },
      },
      {
        // kube-state-metrics' view, independent of the Pushgateway.
        alert: `${w.alert}KubeStateMetrics`,
        expr: `time() - max(kube_cronjob_status_last_successful_time{namespace="${ns}",cronjob="${w.cronJob}"}) > ${limit}`,
        ...common,
        annotations: {
          summary: `CronJob ${w.cronJob} has not completed a Job for ${promDuration(limit)} (kube-state-metrics)`,
          description: `{{ $value | humanizeDuration }} since CronJob ${ns}/${w.cronJob} last succeeded. ${next}`,
        },
      },
    ];
  });
  return [
    {
      object: new PrometheusRule({
        metadata: meta(values, { name: 'tasks-backups', namespace: ns, component: 'backup' }),
        spec: { groups: [{ name: 'tasks-backups', rules }] },
      }),
    },
  ];
}
