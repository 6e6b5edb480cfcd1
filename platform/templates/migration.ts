// The schema migration: the API image's migrate entry as a Job in the database namespace, where
// the owner (admin) and app credentials are synced. It runs after the database is ready and
// before the API rolls out.
import { Job } from 'kubernetes-models/batch/v1/Job';
import type { Values } from '../values';
import { serviceHost } from '../values';
import { image, labels, meta, type Rendered, restrictedContainer } from './common';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { backupEnv, irsaAnnotation } from './backups';

const component = 'migration';
const adminDir = '/var/run/secrets/tasks/postgres-admin';
const appDir = '/var/run/secrets/tasks/app-credentials';

/**
 * The migration's ServiceAccount; it ships with the database so it exists before the Job. It assumes
 * the backup writer's role (IRSA) for the backup taken before pending migrations: its own account
 * rather than the backup CronJob's, so each keeps its own NetworkPolicy labels and the writer role's
 * trust policy names both (secrets/aws/<env>/backup-writer-trust.json).
 */
export function migrationServiceAccount(values: Values): Rendered[] {
  const m = values.database.migration;
  return [
    {
      object: new ServiceAccount({
        metadata: meta(values, {
          name: m.serviceAccountName,
          namespace: values.namespaces.database,
          component,
          app: m.jobName,
          annotations: { [irsaAnnotation]: values.backups.roleArns.writer },
        }),
        automountServiceAccountToken: false,
      }),
    },
  ];
}

export function migrationJob(values: Values): Rendered[] {
  const db = values.database;
  const m = db.migration;
  const runAsUser = values.api.runAsUser;
  return [
    {
      object: new Job({
        metadata: meta(values, {
          name: m.jobName,
          namespace: values.namespaces.database,
          component,
          annotations: {
            // Argo CD runs it before the backend syncs and replaces the previous run's Job.
            // `npm run deploy` deletes the old Job itself: a Job's pod template cannot change.
            'argocd.argoproj.io/hook': 'PreSync',
            'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
          },
        }),
        spec: {
          backoffLimit: m.backoffLimit,
          activeDeadlineSeconds: m.activeDeadlineSeconds,
          template: {
            metadata: { labels: labels(values, m.jobName, component) },
            spec: {
              restartPolicy: 'Never',
              serviceAccountName: m.serviceAccountName,
              automountServiceAccountToken: false,
              securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [
                {
                  name: 'migrate',
                  image: image(values.images.api),
                  command: ['node', '/app/migrate.mjs'],
                  env: [
                    { name: 'DB_HOST', value: serviceHost(values, db.serviceName, values.namespaces.database) },
                    { name: 'DB_PORT', value: String(db.port) },
                    { name: 'DB_NAME', value: db.dbname },
                    { name: 'DB_DRIVER', value: 'pg' },
                    { name: 'DB_CREDENTIALS_DIR', value: adminDir },
                    { name: 'APP_CREDENTIALS_DIR', value: appDir },
                    // A backup before any pending migration; the Job fails if that backup fails.
                    ...backupEnv(values),
                    { name: 'NODE_ENV', value: values.api.env.NODE_ENV ?? 'production' },
                    { name: 'LOG_LEVEL', value: values.api.env.LOG_LEVEL ?? 'info' },
                  ],
                  resources: m.resources,
                  securityContext: restrictedContainer(runAsUser),
                  volumeMounts: [
                    { name: 'admin-credentials', mountPath: adminDir, readOnly: true },
                    { name: 'app-credentials', mountPath: appDir, readOnly: true },
                    { name: 'tmp', mountPath: '/tmp' },
                  ],
                },
              ],
              volumes: [
                { name: 'admin-credentials', secret: { secretName: values.secrets.kubernetes.postgresAdmin } },
                { name: 'app-credentials', secret: { secretName: values.secrets.kubernetes.appCredentials } },
                { name: 'tmp', emptyDir: {} },
              ],
            },
          },
        },
      }),
    },
  ];
}
