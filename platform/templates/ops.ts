// Read-only access for the ops tools: what `npm run watch:scale` reads of the task API, in the
// backend namespace only (a Role, not a ClusterRole), bound to the ops group from the values.
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { Values } from '../values';
import { meta, type Rendered } from './common';

const component = 'ops';
export const opsViewerName = 'ops-viewer';

/**
 * The rules follow the requests scripts/ops/snapshot.ts makes, verb by verb: `get` on the Knative
 * Service, `list` on what belongs to it, and `get pods/log` for the first request a new pod
 * answered (the `"coldStart":true` line of its log). Nothing that can change the cluster and no
 * Secrets; `watch` is not needed, as the view polls.
 */
export function opsViewer(values: Values): Rendered[] {
  const namespace = values.namespaces.backend;
  const metadata = meta(values, { name: opsViewerName, namespace, component });
  return [
    {
      object: new Role({
        metadata,
        rules: [
          { apiGroups: ['serving.knative.dev'], resources: ['services'], verbs: ['get'] },
          { apiGroups: ['serving.knative.dev'], resources: ['revisions'], verbs: ['list'] },
          { apiGroups: ['autoscaling.internal.knative.dev'], resources: ['podautoscalers'], verbs: ['list'] },
          { apiGroups: ['networking.internal.knative.dev'], resources: ['serverlessservices'], verbs: ['list'] },
          { apiGroups: ['apps'], resources: ['deployments'], verbs: ['list'] },
          { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
          { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
        ],
      }),
    },
    {
      object: new RoleBinding({
        metadata,
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: opsViewerName },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: values.ops.viewerGroup }],
      }),
    },
  ];
}
