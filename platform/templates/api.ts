// The task API as a Knative Service: cluster-local, scale to zero, config from a ConfigMap and
// database credentials from a mounted Secret that the API re-reads when the kubelet swaps it.
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service as KnativeService } from '@kubernetes-models/knative/serving.knative.dev/v1/Service';
import type { Values } from '../values';
import { serviceHost } from '../values';
import {
  configHashAnnotation,
  contentHash,
  image,
  labels,
  meta,
  restrictedContainer,
  type Rendered,
  workloadServiceAccount,
} from './common';

const component = 'api';

/** The API's non-secret settings; the names follow the previous system's DB_* variables. */
export function apiConfig(values: Values): Record<string, string> {
  const db = values.database;
  return {
    ...values.api.env,
    DB_HOST: serviceHost(values, db.serviceName, values.namespaces.database),
    DB_PORT: String(db.port),
    DB_NAME: db.dbname,
    DB_DRIVER: 'pg',
    // The Job in the database namespace migrates before each rollout; pods never do.
    MIGRATE_ON_START: 'false',
    DB_CREDENTIALS_DIR: values.api.credentialsMountPath,
    INTERNAL_TOKEN_FILE: `${values.api.internalTokenMountPath}/${values.secrets.internalTokenKey}`,
    FEATURE_EDIT_TASK: String(values.features.editTask),
    FEATURE_DELETE_TASK: String(values.features.deleteTask),
    APP_VERSION: values.images.api.tag,
    DB_CONNECT_TIMEOUT_MS: String(values.timeouts.dbConnectMs),
    DB_STATEMENT_TIMEOUT_MS: String(values.timeouts.dbStatementMs),
    REQUEST_TIMEOUT_MS: String(values.timeouts.apiRequestMs),
  };
}

export function api(values: Values, reasons: ReadonlyMap<string, string> = new Map()): Rendered[] {
  const a = values.api;
  const namespace = values.namespaces.backend;
  const config = apiConfig(values);
  const scaling = a.autoscaling;
  const annotations: Record<string, string> = {
    'autoscaling.knative.dev/min-scale': String(scaling.minScale),
    'autoscaling.knative.dev/max-scale': String(scaling.maxScale),
    'autoscaling.knative.dev/target': String(scaling.target),
    'autoscaling.knative.dev/scale-down-delay': scaling.scaleDownDelay,
    // A ConfigMap change is not a revision change by itself; the hash makes it one.
    [configHashAnnotation]: contentHash(config),
  };
  const annotationPath = (key: string) => ['spec', 'template', 'metadata', 'annotations', key];
  const reasonComments = (
    [
      ['min-scale', 'minScale'],
      ['max-scale', 'maxScale'],
      ['target', 'target'],
      ['scale-down-delay', 'scaleDownDelay'],
    ] as const
  ).flatMap(([annotation, key]) => {
    const text = reasons.get(`api.autoscaling.${key}`);
    return text ? [{ path: annotationPath(`autoscaling.knative.dev/${annotation}`), text }] : [];
  });
  const specComments = (['timeoutSeconds', 'containerConcurrency'] as const).flatMap((key) => {
    const text = reasons.get(`api.${key}`);
    return text ? [{ path: ['spec', 'template', 'spec', key], text }] : [];
  });

  return [
    workloadServiceAccount(values, { name: a.serviceAccountName, namespace, component, app: a.serviceName }),
    {
      object: new ConfigMap({
        metadata: meta(values, { name: a.configMapName, namespace, component, app: a.serviceName }),
        data: config,
      }),
    },
    {
      object: new KnativeService({
        metadata: {
          ...meta(values, { name: a.serviceName, namespace, component }),
          labels: {
            ...labels(values, a.serviceName, component),
            // Reachable only inside the cluster, through the Kourier gateway.
            'networking.knative.dev/visibility': 'cluster-local',
          },
        },
        spec: {
          template: {
            metadata: { labels: labels(values, a.serviceName, component), annotations },
            spec: {
              serviceAccountName: a.serviceAccountName,
              automountServiceAccountToken: false,
              // No *_SERVICE_HOST/_PORT variables for every Service in the namespace: the API reads
              // none of them, and building them slows each pod's start (knative/serving#9104).
              enableServiceLinks: false,
              containerConcurrency: a.containerConcurrency,
              timeoutSeconds: a.timeoutSeconds,
              containers: [
                {
                  name: 'api',
                  image: image(values.images.api),
                  ports: [{ name: 'http1', containerPort: a.port }],
                  envFrom: [{ configMapRef: { name: a.configMapName } }],
                  // Readiness is probed by queue-proxy; without periodSeconds it retries aggressively.
                  readinessProbe: { httpGet: { path: '/readyz', port: a.port } },
                  livenessProbe: {
                    httpGet: { path: '/healthz', port: a.port },
                    periodSeconds: 10,
                    failureThreshold: 3,
                  },
                  resources: a.resources,
                  securityContext: restrictedContainer(a.runAsUser),
                  // Secret volumes, not env or subPath: only a whole-volume mount sees rotated values.
                  volumeMounts: [
                    { name: 'database-credentials', mountPath: a.credentialsMountPath, readOnly: true },
                    { name: 'internal-token', mountPath: a.internalTokenMountPath, readOnly: true },
                    { name: 'tmp', mountPath: '/tmp' },
                  ],
                },
              ],
              volumes: [
                { name: 'database-credentials', secret: { secretName: values.secrets.kubernetes.databaseCredentials } },
                { name: 'internal-token', secret: { secretName: values.secrets.kubernetes.internalToken } },
                { name: 'tmp', emptyDir: {} },
              ],
            },
          },
        },
      }),
      comments: [
        ...reasonComments,
        ...specComments,
        { path: ['spec', 'template', 'spec', 'enableServiceLinks'], text: 'No service-link variables: the API reads none, and they slow pod start (knative/serving#9104).' },
      ],
    },
  ];
}
