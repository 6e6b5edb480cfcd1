// The Prometheus Operator PodMonitor for the task API, rendered per environment from the values (its
// namespace, the Service's pods and the internal-token Secret), so it cannot drift from the API it
// scrapes. Rendered by `npm run render` to observability/rendered/<env>/; applied where the
// Prometheus Operator runs, like the backups' PrometheusRule.
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import type { Values } from '../values';
import { meta, type Rendered } from '../templates/common';

export function apiPodMonitor(values: Values): Rendered[] {
  const revision = [{ sourceLabels: ['__meta_kubernetes_pod_label_serving_knative_dev_revision'], targetLabel: 'revision' }];
  return [
    {
      object: new PodMonitor({
        // A PodMonitor, not a ServiceMonitor: Knative's revision Services come and go with revisions, the pods' labels stay.
        metadata: meta(values, { name: values.api.serviceName, namespace: values.namespaces.backend, component: 'api' }),
        spec: {
          selector: { matchLabels: { 'serving.knative.dev/service': values.api.serviceName } },
          podMetricsEndpoints: [
            {
              // The app: Knative names the container port "user-port" whatever the Service calls it.
              port: 'user-port',
              path: '/metrics',
              interval: '15s',
              // /metrics needs the internal token, as /api does; Prometheus sends the current one
              // from the same Secret the API mounts, re-read by the Operator when ESO updates it.
              authorization: { type: 'Bearer', credentials: { name: values.secrets.kubernetes.internalToken, key: values.secrets.internalTokenKey } },
              relabelings: revision,
            },
            // queue-proxy's user-facing metrics (request counts and latencies as the sidecar saw them).
            { port: 'http-usermetric', path: '/metrics', interval: '15s', relabelings: revision },
          ],
        },
      }),
      comments: [
        { path: ['spec', 'podMetricsEndpoints', 0, 'interval'], text: 'pods can live under a minute after a burst; scrape often enough to see them' },
        { path: ['spec', 'podMetricsEndpoints', 0, 'authorization', 'type'], text: 'the API refuses /metrics without the internal token (INTERNAL_TOKEN_FILE)' },
      ],
    },
  ];
}
