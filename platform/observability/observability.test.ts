import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadValues } from '../values';
import { scheduleIntervalSeconds } from '../schedule';
import { backupAlerts, promDuration } from './backup-alerts';

const here = fileURLToPath(new URL('.', import.meta.url));
const dashboard = (file: string) => JSON.parse(readFileSync(join(here, 'grafana', file), 'utf8'));

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  targets?: { refId: string; expr: string }[];
}
const dataPanels = (d: { panels: Panel[] }) => d.panels.filter((p) => p.type !== 'row');

/** Every (, { and [ closed in order, outside quoted strings: catches most broken PromQL edits. */
function balanced(expr: string): boolean {
  const stack: string[] = [];
  const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
  let quoted = false;
  for (const ch of expr) {
    if (ch === '"') quoted = !quoted;
    else if (quoted) continue;
    else if ('({['.includes(ch)) stack.push(ch);
    else if (ch in pairs && stack.pop() !== pairs[ch]) return false;
  }
  return stack.length === 0 && !quoted;
}

describe.each(['tasks-api.json', 'knative-scaling.json'])('%s', (file) => {
  const d = dashboard(file);

  it('has unique panel ids, a description and well-formed queries on every panel', () => {
    const ids = d.panels.map((p: Panel) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dataPanels(d)) {
      expect(p.description, p.title).toBeTruthy();
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) expect(balanced(t.expr), `${p.title}: ${t.expr}`).toBe(true);
    }
  });

  it('uses only its own variables', () => {
    const declared = new Set<string>(d.templating.list.map((v: { name: string }) => v.name));
    const used = new Set([...JSON.stringify(d.panels).matchAll(/\$\{?([a-z_]+)\}?/g)].map((m) => m[1]!).filter((n) => !n.startsWith('__')));
    for (const name of used) expect(declared, `$${name}`).toContain(name);
  });
});

describe('the API dashboard', () => {
  const exprs = JSON.stringify(dashboard('tasks-api.json').panels);

  it('charts every metric the API exports', () => {
    for (const metric of [
      'http_requests_total',
      'http_request_duration_seconds_bucket',
      'db_pool_connections',
      'tasks_api_startup_seconds',
      'tasks_api_cold_start_first_request_duration_seconds',
    ]) {
      expect(exprs).toContain(metric);
    }
  });
});

describe('the Knative scaling dashboard', () => {
  const d = dashboard('knative-scaling.json');

  it('asks both metric generations in every panel that has an older name', () => {
    for (const p of dataPanels(d)) {
      const exprs = p.targets!.map((t) => t.expr);
      const otel = exprs.filter((e) => /\bkn_/.test(e));
      const prometheus = exprs.filter((e) => /\b(autoscaler|activator)_/.test(e));
      expect(otel.length, p.title).toBeGreaterThan(0);
      if (!p.title.includes('≥ 1.19')) expect(prometheus.length, p.title).toBe(otel.length);
      for (const e of otel) expect(e).toContain('k8s_namespace_name="$namespace"');
      for (const e of prometheus) expect(e).toContain('namespace_name="$namespace"');
    }
  });
});

describe('scrape configuration', () => {
  const values = loadValues('prod');
  const yaml = (file: string) => parseAllDocuments(readFileSync(join(here, file), 'utf8')).map((doc) => doc.toJS());

  it.each(['dev', 'prod'] as const)('selects the Knative Service pods in the backend namespace on the app port, with the internal token (%s)', (env) => {
    const v = loadValues(env);
    const [monitor] = yaml(`rendered/${env}/podmonitor-${v.api.serviceName}.yaml`);
    expect(monitor.kind).toBe('PodMonitor');
    expect(monitor.metadata.namespace).toBe(v.namespaces.backend);
    expect(monitor.spec.selector.matchLabels).toEqual({ 'serving.knative.dev/service': v.api.serviceName });
    expect(monitor.spec.podMetricsEndpoints.map((e: { port: string }) => e.port)).toEqual(['user-port', 'http-usermetric']);
    // The app's /metrics needs the token; queue-proxy's port is Knative's and takes none.
    expect(monitor.spec.podMetricsEndpoints[0].authorization).toEqual({
      type: 'Bearer',
      credentials: { name: v.secrets.kubernetes.internalToken, key: v.secrets.internalTokenKey },
    });
    expect(monitor.spec.podMetricsEndpoints[1].authorization).toBeUndefined();
  });

  it('lets Prometheus through the default deny to the ports it scrapes', () => {
    const [policy] = yaml('networkpolicy-allow-prometheus.yaml');
    expect(policy.metadata.namespace).toBe(values.namespaces.backend);
    expect(policy.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': values.api.serviceName });
    expect(policy.spec.ingress[0].ports.map((p: { port: number }) => p.port)).toEqual([values.api.port, 9091]);
  });

  it('has a plain Prometheus alternative with the same two jobs', () => {
    const config = parse(readFileSync(join(here, 'prometheus-scrape.yaml'), 'utf8'));
    expect(config.scrape_configs.map((j: { job_name: string }) => j.job_name)).toEqual(['tasks-api', 'knative-serving-autoscaling']);
    expect(config.scrape_configs[0].authorization).toEqual({ type: 'Bearer', credentials_file: `/etc/prometheus/secrets/${values.secrets.kubernetes.internalToken}/${values.secrets.internalTokenKey}` });
  });
});

describe.each(['dev', 'prod'] as const)('backup alert rules (%s)', (env) => {
  const values = loadValues(env);
  const file = join(here, 'rendered', env, 'prometheusrule-tasks-backups.yaml');
  const [rule] = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS());
  const rules: { alert: string; expr: string; for?: string; annotations: Record<string, string> }[] = rule.spec.groups[0].rules;
  const byName = (alert: string) => rules.find((r) => r.alert === alert)!;
  /** `time() - max(<metric>{<matchers>}) > <seconds>`, the only shape of an age alert. */
  const ageRule = /^time\(\) - max\((?<metric>[a-z_]+)\{(?<matchers>[^}]*)\}\) > (?<seconds>\d+)$/;

  it('is a PrometheusRule in the database namespace that passes the upstream schema', async () => {
    expect(rule).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { namespace: values.namespaces.database } });
    const { PrometheusRule } = await import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule');
    expect(() => new PrometheusRule(rule).validate()).not.toThrow();
    const broken = structuredClone(rule);
    broken.spec.groups[0].rules[1].for = '30 minutes';
    expect(() => new PrometheusRule(broken).validate()).toThrow(/for/);
  });

  it('alerts at twice each schedule, from the Pushgateway gauge and from kube-state-metrics', () => {
    const cases = [
      { alert: 'TasksBackupTooOld', metric: 'tasks_backup_last_success_timestamp_seconds', job: values.backups.backup },
      { alert: 'TasksRestoreCheckTooOld', metric: 'tasks_restore_check_last_success_timestamp_seconds', job: values.backups.restoreCheck },
    ];
    for (const { alert, metric, job } of cases) {
      const limit = 2 * scheduleIntervalSeconds(job.schedule);
      const gauge = ageRule.exec(byName(alert).expr)?.groups;
      expect(gauge, byName(alert).expr).toMatchObject({ metric, matchers: `job="${job.cronJobName}"`, seconds: String(limit) });
      const ksm = ageRule.exec(byName(`${alert}KubeStateMetrics`).expr)?.groups;
      expect(ksm).toMatchObject({
        metric: 'kube_cronjob_status_last_successful_time',
        matchers: `namespace="${values.namespaces.database}",cronjob="${job.cronJobName}"`,
        seconds: String(limit),
      });
      const missing = byName(alert.replace('TooOld', 'Missing'));
      expect(missing.expr).toBe(`absent(${metric}{job="${job.cronJobName}"})`);
      expect(missing.for).toBe(limit % 3600 === 0 ? `${limit / 3600}h` : `${limit / 60}m`);
      expect(byName(alert).annotations.description).toContain(`create job --from=cronjob/${job.cronJobName}`);
    }
    for (const r of rules) expect(balanced(r.expr), r.expr).toBe(true);
    expect(rules).toHaveLength(6);
  });

  it('moves a threshold with its schedule', () => {
    const hourly = { ...values, backups: { ...values.backups, backup: { ...values.backups.backup, schedule: '0 * * * *' } } };
    const [{ object }] = backupAlerts(hourly);
    const expr = (object.toJSON() as typeof rule).spec.groups[0].rules[0].expr;
    expect(ageRule.exec(expr)?.groups?.seconds).toBe('7200');
  });
});

describe('promDuration', () => {
  it('writes whole hours, minutes or seconds', () => {
    expect([promDuration(1800), promDuration(43_200), promDuration(90)]).toEqual(['30m', '12h', '90s']);
  });
});
