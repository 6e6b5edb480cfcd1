// NetworkPolicies: deny everything in each namespace, then allow exactly the request path
// web → Kourier gateway → (activator) → API → Postgres, plus DNS, and the backups' paths (Postgres,
// AWS over HTTPS, the Pushgateway). One policy per rule.
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort';
import type { INetworkPolicySpec } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicySpec';
import type { Values } from '../values';
import type { Tier } from '../layout';
import { meta, selectorLabels, type Rendered } from './common';

const component = 'network-policy';

/** Every namespace carries this label (Kubernetes ≥ 1.21 sets it). */
const inNamespace = (ns: string) => ({ matchLabels: { 'kubernetes.io/metadata.name': ns } });
const tcp = (port: number): INetworkPolicyPort => ({ protocol: 'TCP', port });
const peer = (ns: string, podLabels: Record<string, string>): INetworkPolicyPeer => ({
  namespaceSelector: inNamespace(ns),
  podSelector: { matchLabels: podLabels },
});

function policy(
  values: Values,
  namespace: string,
  name: string,
  spec: INetworkPolicySpec,
): Rendered {
  return { object: new NetworkPolicy({ metadata: meta(values, { name, namespace, component, app: name }), spec }) };
}

function defaultDeny(values: Values, namespace: string): Rendered {
  return policy(values, namespace, 'default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
}

/** Pods by `app.kubernetes.io/name`: one workload's labels, or several workloads' in one selector. */
type PodSelector = NonNullable<INetworkPolicySpec['podSelector']>;
const byNames = (names: string[]): PodSelector =>
  names.length === 1
    ? { matchLabels: selectorLabels(names[0]!) }
    : { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: names }] };

function allowDns(values: Values, namespace: string, podSelector: PodSelector): Rendered {
  const dns = values.platform.dns;
  return policy(values, namespace, 'allow-dns', {
    podSelector,
    policyTypes: ['Egress'],
    egress: [
      { to: [peer(dns.namespace, dns.podLabels)], ports: [{ protocol: 'UDP', port: dns.port }, tcp(dns.port)] },
    ],
  });
}

export function networkPolicies(values: Values, which: Tier): Rendered[] {
  const ns = values.namespaces;
  const { kourier, knative } = values.platform;
  const web = selectorLabels(values.web.deploymentName);
  const api = selectorLabels(values.api.serviceName);
  const postgres = selectorLabels(values.database.statefulSetName);
  const db = values.database;
  const migration = selectorLabels(db.migration.jobName);
  const pgPort = values.database.port;

  switch (which) {
    case 'frontend': {
      const controller = values.web.ingressController;
      return [
        defaultDeny(values, ns.frontend),
        policy(values, ns.frontend, 'allow-web-ingress', {
          podSelector: { matchLabels: web },
          policyTypes: ['Ingress'],
          ingress: [
            {
              // Without a named ingress controller, anyone may load the page (an empty `from`).
              ...(controller.namespace
                ? {
                    from: [
                      Object.keys(controller.podLabels).length > 0
                        ? peer(controller.namespace, controller.podLabels)
                        : { namespaceSelector: inNamespace(controller.namespace) },
                    ],
                  }
                : {}),
              ports: [tcp(values.web.port)],
            },
          ],
        }),
        policy(values, ns.frontend, 'allow-web-to-kourier', {
          podSelector: { matchLabels: web },
          policyTypes: ['Egress'],
          egress: [{ to: [peer(kourier.namespace, kourier.podLabels)], ports: [tcp(kourier.port)] }],
        }),
        allowDns(values, ns.frontend, { matchLabels: web }),
      ];
    }
    case 'backend':
      return [
        defaultDeny(values, ns.backend),
        policy(values, ns.backend, 'allow-api-from-kourier', {
          podSelector: { matchLabels: api },
          policyTypes: ['Ingress'],
          ingress: [{ from: [peer(kourier.namespace, kourier.podLabels)], ports: [tcp(knative.queueProxyPort)] }],
        }),
        policy(values, ns.backend, 'allow-api-from-knative-serving', {
          podSelector: { matchLabels: api },
          policyTypes: ['Ingress'],
          ingress: [
            // The activator holds requests while the API is scaled to zero, then forwards them.
            { from: [peer(knative.namespace, knative.activatorPodLabels)], ports: [tcp(knative.queueProxyPort)] },
            // The autoscaler scrapes queue-proxy's concurrency metrics.
            { from: [peer(knative.namespace, knative.autoscalerPodLabels)], ports: [tcp(knative.metricsPort)] },
          ],
        }),
        policy(values, ns.backend, 'allow-api-to-database', {
          podSelector: { matchLabels: api },
          policyTypes: ['Egress'],
          egress: [{ to: [peer(ns.database, postgres)], ports: [tcp(pgPort)] }],
        }),
        allowDns(values, ns.backend, { matchLabels: api }),
      ];
    case 'database': {
      const b = values.backups;
      const backup = selectorLabels(b.backup.cronJobName);
      const restoreCheck = b.restoreCheck.cronJobName;
      const pushgateway = values.platform.pushgateway;
      // S3, STS and KMS by address: a NetworkPolicy cannot name DNS names (see backups.egressCidrs).
      const aws = b.egressCidrs.map((c): INetworkPolicyPeer => ({ ipBlock: { cidr: c.cidr, ...(c.except ? { except: c.except } : {}) } }));
      return [
        defaultDeny(values, ns.database),
        policy(values, ns.database, 'allow-postgres-from-api', {
          podSelector: { matchLabels: postgres },
          policyTypes: ['Ingress'],
          ingress: [{ from: [peer(ns.backend, api)], ports: [tcp(pgPort)] }],
        }),
        policy(values, ns.database, 'allow-postgres-from-migration', {
          podSelector: { matchLabels: postgres },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ podSelector: { matchLabels: migration } }], ports: [tcp(pgPort)] }],
        }),
        policy(values, ns.database, 'allow-migration-to-postgres', {
          podSelector: { matchLabels: migration },
          policyTypes: ['Egress'],
          egress: [{ to: [{ podSelector: { matchLabels: postgres } }], ports: [tcp(pgPort)] }],
        }),
        // The backup reads the database as the owner; the restore check never reaches it.
        policy(values, ns.database, 'allow-postgres-from-backup', {
          podSelector: { matchLabels: postgres },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ podSelector: { matchLabels: backup } }], ports: [tcp(pgPort)] }],
        }),
        policy(values, ns.database, 'allow-backup-to-postgres', {
          podSelector: { matchLabels: backup },
          policyTypes: ['Egress'],
          egress: [{ to: [{ podSelector: { matchLabels: postgres } }], ports: [tcp(pgPort)] }],
        }),
        // S3 for the backups, STS for IRSA's web identity exchange, KMS through S3: HTTPS only.
        policy(values, ns.database, 'allow-backups-to-aws', {
          podSelector: byNames([db.migration.jobName, b.backup.cronJobName, restoreCheck]),
          policyTypes: ['Egress'],
          egress: [{ to: aws, ports: [tcp(443)] }],
        }),
        policy(values, ns.database, 'allow-backups-to-pushgateway', {
          podSelector: byNames([b.backup.cronJobName, restoreCheck]),
          policyTypes: ['Egress'],
          egress: [{ to: [peer(pushgateway.namespace, pushgateway.podLabels)], ports: [tcp(pushgateway.port)] }],
        }),
        allowDns(values, ns.database, byNames([db.migration.jobName, b.backup.cronJobName, restoreCheck])),
      ];
    }
  }
}
