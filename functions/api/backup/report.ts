import { Gauge, Pushgateway, Registry } from 'prom-client';

/**
 * Pushes a batch run's result to a Prometheus Pushgateway (PUSHGATEWAY_URL), the usual way a job
 * that exits reports: Prometheus scrapes the gateway and the alert rules in platform/observability
 * fire when `time() - tasks_backup_last_success_timestamp_seconds` passes twice the schedule.
 * Returns a warning line when the push fails: the run itself still counts (the alert covers it).
 */
export async function pushResult(
  url: string | undefined,
  job: 'tasks-backup' | 'tasks-restore-check',
  figures: { durationSeconds: number; bytes?: number },
): Promise<string | undefined> {
  if (!url?.trim()) return undefined;
  const registry = new Registry();
  const prefix = job === 'tasks-backup' ? 'tasks_backup' : 'tasks_restore_check';
  new Gauge({ name: `${prefix}_last_success_timestamp_seconds`, help: 'Unix time of the last successful run', registers: [registry] }).set(Date.now() / 1000);
  new Gauge({ name: `${prefix}_duration_seconds`, help: 'How long the last successful run took', registers: [registry] }).set(figures.durationSeconds);
  if (figures.bytes !== undefined) {
    new Gauge({ name: `${prefix}_size_bytes`, help: 'Size of the last backup (compressed data object)', registers: [registry] }).set(figures.bytes);
  }
  try {
    await new Pushgateway(url.trim(), { timeout: 5000 }, registry).pushAdd({ jobName: job });
    return undefined;
  } catch (err) {
    return `could not push metrics to the Pushgateway (${(err as Error).message}); the run itself succeeded`;
  }
}
