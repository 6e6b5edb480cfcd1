// Backups of the task database: the backup writer's CronJob, the scheduled restore check, their
// IRSA ServiceAccounts. Both run the API image (backup.mjs, restore.mjs); the restore check brings
// its own empty PostgreSQL as a native sidecar, so it never touches the real database.
// Runbook: platform/backups.md. IAM roles: secrets/aws/ (backup-writer, backup-reader).
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { Values } from '../values';
import { serviceHost } from '../values';
import { cronTimeZone } from '../schedule';
import { commentFor, contentHash, configHashAnnotation, image, labels, meta, type Rendered, restrictedContainer } from './common';

const component = 'backup';
const adminDir = '/var/run/secrets/tasks/postgres-admin';
/** The IRSA annotation the EKS pod identity webhook reads: it injects AWS_ROLE_ARN and a projected token. */
export const irsaAnnotation = 'eks.amazonaws.com/role-arn';
/** Where the restore check's scratch PostgreSQL listens: the pod's loopback only. */
export const scratchDatabaseUrl = 'postgres://postgres@127.0.0.1:5432/postgres';

/** `s3://<bucket>/<prefix>`: where this environment's backups live (BACKUP_URI). */
export function backupUri(values: Values): string {
  return `s3://${values.backups.bucket}/${values.backups.prefix}`;
}

/** The environment every backup-aware process gets: where, which key, which region. */
export function backupEnv(values: Values): IEnvVar[] {
  return [
    { name: 'BACKUP_URI', value: backupUri(values) },
    { name: 'BACKUP_KMS_KEY_ID', value: values.backups.kmsKeyArn },
    { name: 'AWS_REGION', value: values.secrets.region },
  ];
}

function pushgatewayUrl(values: Values): string {
  const p = values.platform.pushgateway;
  return `http://${serviceHost(values, p.serviceName, p.namespace)}:${p.port}`;
}

function irsaServiceAccount(values: Values, name: string, app: string, roleArn: string): Rendered {
  return {
    object: new ServiceAccount({
      metadata: meta(values, { name, namespace: values.namespaces.database, component, app, annotations: { [irsaAnnotation]: roleArn } }),
      // No Kubernetes API token: the webhook mounts its own projected token for STS, nothing else is needed.
      automountServiceAccountToken: false,
    }),
  };
}

/** Pod settings every backup pod shares: its own identity, no API token, no service links, hardened. */
function podSpec(serviceAccountName: string, rest: Pick<IPodSpec, 'containers' | 'initContainers' | 'volumes'>): IPodSpec {
  return {
    restartPolicy: 'Never',
    serviceAccountName,
    automountServiceAccountToken: false,
    // The database namespace's Services would otherwise become env vars; nothing here reads them.
    enableServiceLinks: false,
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    ...rest,
  };
}

function cronJob(
  values: Values,
  which: 'backup' | 'restoreCheck',
  pod: IPodSpec,
  reasons: ReadonlyMap<string, string>,
  annotations: Record<string, string> = {},
): Rendered {
  const job = values.backups[which];
  const reason = (key: string) => reasons.get(`backups.${which}.${key}`);
  return {
    object: new CronJob({
      metadata: meta(values, { name: job.cronJobName, namespace: values.namespaces.database, component }),
      spec: {
        schedule: job.schedule,
        timeZone: cronTimeZone,
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: job.startingDeadlineSeconds,
        successfulJobsHistoryLimit: job.successfulJobsHistoryLimit,
        failedJobsHistoryLimit: job.failedJobsHistoryLimit,
        jobTemplate: {
          metadata: { labels: labels(values, job.cronJobName, component) },
          spec: {
            backoffLimit: job.backoffLimit,
            activeDeadlineSeconds: job.activeDeadlineSeconds,
            template: {
              metadata: {
                labels: labels(values, job.cronJobName, component),
                ...(Object.keys(annotations).length ? { annotations } : {}),
              },
              spec: pod,
            },
          },
        },
      },
    }),
    comments: [
      ...(commentFor(['spec', 'schedule'], reason('schedule')) ?? []),
      ...(commentFor(['spec', 'startingDeadlineSeconds'], reason('startingDeadlineSeconds')) ?? []),
      ...(commentFor(['spec', 'jobTemplate', 'spec', 'activeDeadlineSeconds'], reason('activeDeadlineSeconds')) ?? []),
      ...(commentFor(['spec', 'jobTemplate', 'spec', 'backoffLimit'], reason('backoffLimit')) ?? []),
    ],
  };
}

function nodeContainer(values: Values, name: string, command: string[], env: IEnvVar[], mounts: IContainer['volumeMounts'], resources: IContainer['resources']): IContainer {
  return {
    name,
    image: image(values.images.api),
    command,
    env: [...env, { name: 'NODE_ENV', value: values.api.env.NODE_ENV ?? 'production' }, { name: 'LOG_LEVEL', value: values.api.env.LOG_LEVEL ?? 'info' }],
    resources,
    securityContext: restrictedContainer(values.api.runAsUser),
    volumeMounts: [...(mounts ?? []), { name: 'tmp', mountPath: '/tmp' }],
  };
}

/** pg_hba for the scratch database: trust, and only over the pod's loopback or its socket. */
const scratchHba = ['# TYPE  DATABASE USER ADDRESS      METHOD', 'local   all      all                trust', 'host    all      all  127.0.0.1/32 trust', ''].join('\n');

export function backups(values: Values, reasons: ReadonlyMap<string, string> = new Map()): Rendered[] {
  const b = values.backups;
  const db = values.database;
  const namespace = values.namespaces.database;
  const pg = values.images.postgres;
  const hbaConfigMap = `${b.restoreCheck.cronJobName}-pg-hba`;
  const hbaData = { 'pg_hba.conf': scratchHba };

  const backupPod = podSpec(b.backup.serviceAccountName, {
    containers: [
      nodeContainer(
        values,
        'backup',
        ['node', '/app/backup.mjs'],
        [
          // The owner role, as the migration connects: the dump reads every table.
          { name: 'DB_HOST', value: serviceHost(values, db.serviceName, namespace) },
          { name: 'DB_PORT', value: String(db.port) },
          { name: 'DB_NAME', value: db.dbname },
          { name: 'DB_DRIVER', value: 'pg' },
          { name: 'DB_CREDENTIALS_DIR', value: adminDir },
          ...backupEnv(values),
          { name: 'PUSHGATEWAY_URL', value: pushgatewayUrl(values) },
        ],
        [{ name: 'admin-credentials', mountPath: adminDir, readOnly: true }],
        b.backup.resources,
      ),
    ],
    volumes: [
      { name: 'admin-credentials', secret: { secretName: values.secrets.kubernetes.postgresAdmin } },
      { name: 'tmp', emptyDir: {} },
    ],
  });

  // pg_isready over TCP on loopback: the check's own connection path.
  const isReady = { exec: { command: ['pg_isready', '-h', '127.0.0.1', '-p', '5432', '-U', 'postgres'] } };
  const scratch: IContainer = {
    name: 'scratch-postgres',
    image: image(pg),
    // A native sidecar (Kubernetes >= 1.29): starts first, stays up while the check runs, stops after it.
    restartPolicy: 'Always',
    // Loopback only; the hba file limits trust to it; fsync off because the data dies with the pod.
    args: ['postgres', '-c', 'listen_addresses=127.0.0.1', '-c', 'hba_file=/etc/scratch-postgres/pg_hba.conf', '-c', 'fsync=off'],
    env: [
      // The image refuses to start without a password unless told; pg_hba above limits trust to loopback.
      { name: 'POSTGRES_HOST_AUTH_METHOD', value: 'trust' },
      { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
    ],
    startupProbe: { ...isReady, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 90 },
    readinessProbe: { ...isReady, periodSeconds: 10, timeoutSeconds: 3 },
    resources: b.restoreCheck.scratchResources,
    securityContext: restrictedContainer(db.runAsUser),
    volumeMounts: [
      { name: 'scratch-data', mountPath: '/var/lib/postgresql/data' },
      { name: 'scratch-hba', mountPath: '/etc/scratch-postgres', readOnly: true },
      { name: 'scratch-run', mountPath: '/var/run/postgresql' },
      { name: 'tmp', mountPath: '/tmp' },
    ],
  };
  const restorePod = podSpec(b.restoreCheck.serviceAccountName, {
    initContainers: [scratch],
    containers: [
      nodeContainer(
        values,
        'restore-check',
        ['node', '/app/restore.mjs', '--from', 'latest', '--check'],
        [
          { name: 'DATABASE_URL', value: scratchDatabaseUrl },
          ...backupEnv(values),
          { name: 'PUSHGATEWAY_URL', value: pushgatewayUrl(values) },
        ],
        [],
        b.restoreCheck.resources,
      ),
    ],
    volumes: [
      { name: 'scratch-data', emptyDir: { sizeLimit: b.restoreCheck.scratchStorage } },
      { name: 'scratch-hba', configMap: { name: hbaConfigMap } },
      { name: 'scratch-run', emptyDir: {} },
      { name: 'tmp', emptyDir: {} },
    ],
  });

  return [
    irsaServiceAccount(values, b.backup.serviceAccountName, b.backup.cronJobName, b.roleArns.writer),
    irsaServiceAccount(values, b.restoreCheck.serviceAccountName, b.restoreCheck.cronJobName, b.roleArns.reader),
    {
      object: new ConfigMap({
        metadata: meta(values, { name: hbaConfigMap, namespace, component, app: b.restoreCheck.cronJobName }),
        data: hbaData,
      }),
    },
    cronJob(values, 'backup', backupPod, reasons),
    cronJob(values, 'restoreCheck', restorePod, reasons, { [configHashAnnotation]: contentHash(hbaData) }),
  ];
}
