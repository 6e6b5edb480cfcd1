// The Vue SPA behind nginx: a Deployment and Service `frontend`; nginx proxies /api/ to the
// API's cluster-local Knative URL and adds the internal token.
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { Values } from '../values';
import { serviceHost } from '../values';
import {
  configHashAnnotation,
  contentHash,
  image,
  labels,
  meta,
  restrictedContainer,
  selectorLabels,
  type Rendered,
  workloadServiceAccount,
} from './common';

const component = 'web';

export function webConfig(values: Values): Record<string, string> {
  return {
    API_URL: values.web.apiUrl,
    // Keep nginx's default `Host $proxy_host`: Kourier routes on this host name. A full name: nginx
    // resolves it per request through the cluster DNS (from /etc/resolv.conf), without search domains.
    API_UPSTREAM: `http://${serviceHost(values, values.api.serviceName, values.namespaces.backend)}`,
    INTERNAL_TOKEN_FILE: `${values.web.internalTokenMountPath}/${values.secrets.internalTokenKey}`,
    INTERNAL_TOKEN_WATCH_SECONDS: String(values.web.internalTokenWatchSeconds),
    FEATURE_EDIT_TASK: String(values.features.editTask),
    FEATURE_DELETE_TASK: String(values.features.deleteTask),
    APP_VERSION: values.images.web.tag,
    API_TIMEOUT: String(values.timeouts.nginxSeconds),
    CLIENT_TIMEOUT: String(values.timeouts.nginxClientSeconds),
    // The API's budget, so the entrypoint can refuse an API_TIMEOUT or CLIENT_TIMEOUT at or below it.
    REQUEST_TIMEOUT_MS: String(values.timeouts.apiRequestMs),
    WORKER_CONNECTIONS: String(values.web.workerConnections),
  };
}

export function web(values: Values, reasons: ReadonlyMap<string, string> = new Map()): Rendered[] {
  const w = values.web;
  const namespace = values.namespaces.frontend;
  const selector = selectorLabels(w.deploymentName);
  const config = webConfig(values);
  const probe = { httpGet: { path: '/healthz', port: 'http' } };
  const replicasReason = reasons.get('web.replicas');

  const out: Rendered[] = [
    workloadServiceAccount(values, { name: w.serviceAccountName, namespace, component, app: w.deploymentName }),
    {
      object: new ConfigMap({
        metadata: meta(values, { name: w.configMapName, namespace, component, app: w.deploymentName }),
        data: config,
      }),
    },
    {
      object: new Deployment({
        metadata: meta(values, { name: w.deploymentName, namespace, component }),
        spec: {
          replicas: w.replicas,
          revisionHistoryLimit: 5,
          selector: { matchLabels: selector },
          // Bring a new pod up before an old one goes: no gap in serving.
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: {
            metadata: {
              labels: labels(values, w.deploymentName, component),
              annotations: { [configHashAnnotation]: contentHash(config) },
            },
            spec: {
              serviceAccountName: w.serviceAccountName,
              automountServiceAccountToken: false,
              securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [
                {
                  name: 'web',
                  image: image(values.images.web),
                  ports: [{ name: 'http', containerPort: w.port, protocol: 'TCP' }],
                  envFrom: [{ configMapRef: { name: w.configMapName } }],
                  readinessProbe: { ...probe, periodSeconds: 5, failureThreshold: 3 },
                  livenessProbe: { ...probe, periodSeconds: 10, failureThreshold: 3 },
                  resources: w.resources,
                  securityContext: restrictedContainer(w.runAsUser),
                  volumeMounts: [
                    { name: 'internal-token', mountPath: w.internalTokenMountPath, readOnly: true },
                    // nginx writes its rendered config, temp files and pid here; the root is read-only.
                    { name: 'tmp', mountPath: '/tmp' },
                  ],
                },
              ],
              volumes: [
                { name: 'internal-token', secret: { secretName: values.secrets.kubernetes.internalToken } },
                { name: 'tmp', emptyDir: {} },
              ],
            },
          },
        },
      }),
      comments: replicasReason ? [{ path: ['spec', 'replicas'], text: replicasReason }] : [],
    },
    {
      object: new Service({
        metadata: meta(values, { name: w.serviceName, namespace, component, app: w.deploymentName }),
        spec: {
          type: 'ClusterIP',
          selector,
          ports: [{ name: 'http', port: w.servicePort, targetPort: 'http', protocol: 'TCP' }],
        },
      }),
    },
  ];

  if (w.podDisruptionBudget.enabled) {
    out.push({
      object: new PodDisruptionBudget({
        metadata: meta(values, { name: w.deploymentName, namespace, component }),
        spec: { minAvailable: w.podDisruptionBudget.minAvailable, selector: { matchLabels: selector } },
      }),
    });
  }

  if (w.ingress.enabled) {
    out.push({
      object: new Ingress({
        metadata: meta(values, { name: w.deploymentName, namespace, component }),
        spec: {
          ...(w.ingress.className ? { ingressClassName: w.ingress.className } : {}),
          ...(w.ingress.tlsSecretName
            ? { tls: [{ hosts: [w.ingress.host], secretName: w.ingress.tlsSecretName }] }
            : {}),
          rules: [
            {
              ...(w.ingress.host ? { host: w.ingress.host } : {}),
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: w.serviceName, port: { name: 'http' } } },
                  },
                ],
              },
            },
          ],
        },
      }),
    });
  }
  return out;
}
