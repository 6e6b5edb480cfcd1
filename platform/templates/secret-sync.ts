// Secret sync: per namespace, a SecretStore for AWS Secrets Manager (IRSA through its own
// ServiceAccount) and one ExternalSecret per Secret a workload there consumes (the table is
// syncedSecrets in ../layout.ts). Nothing is shared across namespaces: each gets its own copy,
// read with its own IAM role.
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { SecretStore } from '@kubernetes-models/external-secrets/external-secrets.io/v1/SecretStore';
import { ExternalSecret } from '@kubernetes-models/external-secrets/external-secrets.io/v1/ExternalSecret';
import { awsSecretName, type Values } from '../values';
import { externalSecretName, syncedSecrets, type Tier } from '../layout';
import { commentFor, labels, meta, type Rendered } from './common';

// Argo CD: sync the store and secrets before the workloads that mount them.
const beforeWorkloads = { 'argocd.argoproj.io/sync-wave': '-1' };

export function secretSync(
  values: Values,
  tier: Tier,
  reasons: ReadonlyMap<string, string> = new Map(),
): Rendered[] {
  const namespace = values.namespaces[tier];
  const s = values.secrets;
  const component = 'secret-sync'; // the app.kubernetes.io/component label
  const wanted = syncedSecrets(values).filter((x) => x.tier === tier);
  if (wanted.length === 0) return [];
  return [
    {
      object: new ServiceAccount({
        metadata: meta(values, {
          name: s.serviceAccountName,
          namespace,
          component,
          annotations: { ...beforeWorkloads, 'eks.amazonaws.com/role-arn': s.roleArns[tier] },
        }),
        // Only ESO uses this account, through the TokenRequest API; no pod mounts it.
        automountServiceAccountToken: false,
      }),
    },
    {
      object: new SecretStore({
        metadata: meta(values, { name: s.storeName, namespace, component, annotations: beforeWorkloads }),
        spec: {
          provider: {
            aws: {
              service: 'SecretsManager',
              region: s.region,
              auth: { jwt: { serviceAccountRef: { name: s.serviceAccountName } } },
            },
          },
        },
      }),
    },
    ...wanted.map(
      (secret): Rendered => ({
        object: new ExternalSecret({
          metadata: meta(values, {
            name: externalSecretName(values, secret),
            namespace,
            component,
            app: secret.secretName,
            annotations: beforeWorkloads,
          }),
          spec: {
            refreshInterval: s.refreshInterval,
            refreshPolicy: 'Periodic',
            secretStoreRef: { kind: 'SecretStore', name: s.storeName },
            target: {
              name: secret.secretName,
              // Orphan: no ownerReference, so deleting or pruning this ExternalSecret (an Argo CD
              // prune, a rename) never garbage-collects the Secret running pods mount; a recreated
              // ExternalSecret updates the same Secret in place (secrets/README.md, "Lifecycle").
              creationPolicy: 'Orphan',
              // Retain: a transient not-found at AWS must never delete the Secret pods are using.
              deletionPolicy: 'Retain',
              // Our own labels, not the ExternalSecret's: ESO copies those otherwise, and Argo CD's
              // tracking label on a Secret it has no manifest for would make it prune the Secret.
              template: { metadata: { labels: labels(values, secret.secretName, component), annotations: {} } },
            },
            data: Object.entries(secret.keys).map(([secretKey, from]) => ({
              secretKey,
              remoteRef: { key: awsSecretName(values, secret.awsSecret), ...(typeof from === 'string' ? { property: from } : from) },
            })),
          },
        }),
        comments: commentFor(['spec', 'refreshInterval'], reasons.get('secrets.refreshInterval')),
      }),
    ),
  ];
}

