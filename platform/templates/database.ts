// PostgreSQL: the official image as a one-replica StatefulSet, reached through Service `database`.
import { Service } from 'kubernetes-models/v1/Service';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { Values } from '../values';
import { image, labels, meta, type Rendered, restrictedContainer, selectorLabels, workloadServiceAccount } from './common';

const component = 'database';
const adminMountPath = '/var/run/secrets/tasks/postgres-admin';

export function database(values: Values): Rendered[] {
  const db = values.database;
  const namespace = values.namespaces.database;
  const selector = selectorLabels(db.statefulSetName);
  const port = { name: 'postgres', port: db.port, targetPort: 'postgres', protocol: 'TCP' as const };
  // pg_isready checks that the server accepts connections; it needs no password.
  const isReady = { exec: { command: ['pg_isready', '-h', '127.0.0.1', '-p', String(db.port), '-d', db.dbname] } };

  return [
    workloadServiceAccount(values, { name: db.serviceAccountName, namespace, component, app: db.statefulSetName }),
    {
      object: new Service({
        metadata: meta(values, { name: db.headlessServiceName, namespace, component, app: db.statefulSetName }),
        spec: { clusterIP: 'None', selector, ports: [port], publishNotReadyAddresses: true },
      }),
    },
    {
      object: new Service({
        metadata: meta(values, { name: db.serviceName, namespace, component, app: db.statefulSetName }),
        spec: { type: 'ClusterIP', selector, ports: [port] },
      }),
    },
    {
      object: new StatefulSet({
        metadata: meta(values, { name: db.statefulSetName, namespace, component }),
        spec: {
          serviceName: db.headlessServiceName,
          replicas: 1,
          selector: { matchLabels: selector },
          persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
          template: {
            metadata: { labels: labels(values, db.statefulSetName, component) },
            spec: {
              serviceAccountName: db.serviceAccountName,
              automountServiceAccountToken: false,
              // Postgres may take its time to checkpoint on shutdown.
              terminationGracePeriodSeconds: 60,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: db.runAsUser,
                runAsGroup: db.runAsUser,
                fsGroup: db.runAsUser,
                fsGroupChangePolicy: 'OnRootMismatch',
                seccompProfile: { type: 'RuntimeDefault' },
              },
              containers: [
                {
                  name: 'postgres',
                  image: image(values.images.postgres),
                  ports: [{ name: 'postgres', containerPort: db.port, protocol: 'TCP' }],
                  env: [
                    // The image reads *_FILE variables: the admin login comes from the mounted Secret.
                    { name: 'POSTGRES_USER_FILE', value: `${adminMountPath}/username` },
                    { name: 'POSTGRES_PASSWORD_FILE', value: `${adminMountPath}/password` },
                    { name: 'POSTGRES_DB', value: db.dbname },
                    { name: 'PGDATA', value: `${db.dataMountPath}/${db.pgdataSubdir}` },
                    { name: 'POSTGRES_INITDB_ARGS', value: '--auth-host=scram-sha-256' },
                  ],
                  readinessProbe: { ...isReady, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
                  livenessProbe: {
                    ...isReady,
                    initialDelaySeconds: 30,
                    periodSeconds: 10,
                    timeoutSeconds: 5,
                    failureThreshold: 6,
                  },
                  resources: db.resources,
                  securityContext: restrictedContainer(db.runAsUser),
                  volumeMounts: [
                    { name: 'data', mountPath: db.dataMountPath },
                    { name: 'admin-credentials', mountPath: adminMountPath, readOnly: true },
                    { name: 'run', mountPath: '/var/run/postgresql' },
                    { name: 'tmp', mountPath: '/tmp' },
                    { name: 'shm', mountPath: '/dev/shm' },
                  ],
                },
              ],
              volumes: [
                { name: 'admin-credentials', secret: { secretName: values.secrets.kubernetes.postgresAdmin } },
                { name: 'run', emptyDir: {} },
                { name: 'tmp', emptyDir: {} },
                { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: db.shmSizeLimit } },
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'data', labels: labels(values, db.statefulSetName, component) },
              spec: {
                accessModes: ['ReadWriteOnce'],
                ...(db.storage.storageClassName ? { storageClassName: db.storage.storageClassName } : {}),
                resources: { requests: { storage: db.storage.size } },
              },
            },
          ],
        },
      }),
    },
  ];
}
