// One namespace per tier, with Pod Security "restricted" enforced, a quota and container defaults.
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ResourceQuota } from 'kubernetes-models/v1/ResourceQuota';
import { LimitRange } from 'kubernetes-models/v1/LimitRange';
import type { Values } from '../values';
import type { Tier } from '../layout';
import { labels, meta, type Rendered } from './common';

const podSecurity = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/enforce-version': 'latest',
  'pod-security.kubernetes.io/warn': 'restricted',
  'pod-security.kubernetes.io/audit': 'restricted',
};

export function namespace(values: Values, tier: Tier): Rendered[] {
  const ns = values.namespaces[tier];
  const quota = values.quotas[tier];
  const defaults = values.limitRangeDefaults;
  return [
    {
      object: new Namespace({
        metadata: {
          name: ns,
          labels: { ...labels(values, ns, tier), ...podSecurity },
          // Deleting a namespace deletes its volumes: Argo CD must never prune or delete the database's.
          ...(tier === 'database'
            ? { annotations: { 'argocd.argoproj.io/sync-options': 'Prune=false,Delete=false' } }
            : {}),
        },
      }),
    },
    {
      object: new ResourceQuota({
        metadata: meta(values, { name: 'quota', namespace: ns, component: tier, app: ns }),
        spec: {
          hard: {
            'requests.cpu': quota.requestsCpu,
            'requests.memory': quota.requestsMemory,
            'limits.cpu': quota.limitsCpu,
            'limits.memory': quota.limitsMemory,
            pods: quota.pods,
            ...(quota.storage ? { 'requests.storage': quota.storage } : {}),
          },
        },
      }),
    },
    {
      object: new LimitRange({
        metadata: meta(values, { name: 'container-defaults', namespace: ns, component: tier, app: ns }),
        spec: {
          limits: [
            {
              type: 'Container',
              defaultRequest: { cpu: defaults.request.cpu, memory: defaults.request.memory },
              default: { cpu: defaults.limit.cpu, memory: defaults.limit.memory },
            },
          ],
        },
      }),
    },
  ];
}
