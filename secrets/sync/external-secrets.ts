// Secret sync: per namespace, a SecretStore for AWS Secrets Manager (IRSA through its own
// ServiceAccount) and one ExternalSecret per Secret a workload there consumes. Nothing is shared
// across namespaces: each gets its own copy, read with its own IAM role.
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { SecretStore } from '@kubernetes-models/external-secrets/external-secrets.io/v1/SecretStore';
import { ExternalSecret } from '@kubernetes-models/external-secrets/external-secrets.io/v1/ExternalSecret';
import type { Values } from '../../platform/values';
import { awsSecretName } from '../../platform/values';
import { commentFor, meta, type Component, type Rendered } from '../../platform/templates/common';
import { PREVIOUS_TOKEN_FILE } from '../../functions/api/internal-token';

/** A Kubernetes Secret that ESO creates from one AWS secret, and who reads it. */
export interface SyncedSecret {
  component: Component;
  secretName: string;
  awsSecret: keyof Values['secrets']['aws'];
  /**
   * Secret key → JSON property of the AWS secret (of its AWSCURRENT version, unless a staging label
   * is given). Only these keys reach the cluster.
   */
  keys: Record<string, string | { property: string; version: 'AWSPREVIOUS' }>;
  consumers: string[];
  purpose: string;
}

/** Every synced Secret: the single table the templates, the tests and the docs agree on. */
export function syncedSecrets(values: Values): SyncedSecret[] {
  const k = values.secrets.kubernetes;
  const login = { username: 'username', password: 'password' };
  // Both tiers hold the current and the previous token: nginx sends both, the API accepts both, so
  // pods one rotation apart share a token whichever namespace ESO updates first (secrets/README.md).
  const tokens = { [values.secrets.internalTokenKey]: 'token', [PREVIOUS_TOKEN_FILE]: { property: 'token', version: 'AWSPREVIOUS' as const } };
  return [
    {
      component: 'database',
      secretName: k.postgresAdmin,
      awsSecret: 'dbAdmin',
      keys: login,
      consumers: [values.database.statefulSetName, values.database.migration.jobName],
      purpose: 'owner role: initialises Postgres, runs migrations',
    },
    {
      component: 'database',
      secretName: k.appCredentials,
      awsSecret: 'dbApp',
      keys: login,
      consumers: [values.database.migration.jobName],
      purpose: 'app role the migration ensures exists (password never reset)',
    },
    {
      component: 'backend',
      secretName: k.databaseCredentials,
      awsSecret: 'dbApp',
      keys: { ...login, host: 'host', port: 'port', dbname: 'dbname' },
      consumers: [values.api.serviceName],
      purpose: 'what the API connects with; re-read live after rotation',
    },
    {
      component: 'backend',
      secretName: k.internalToken,
      awsSecret: 'internalToken',
      keys: tokens,
      consumers: [values.api.serviceName],
      purpose: 'the API accepts `token` (AWSCURRENT) and `previous` (AWSPREVIOUS) on every /api request',
    },
    {
      component: 'frontend',
      secretName: k.internalToken,
      awsSecret: 'internalToken',
      keys: tokens,
      consumers: [values.web.deploymentName],
      purpose: 'nginx sends `token, previous` with every proxied /api request, following changes without a restart',
    },
  ];
}

// Argo CD: sync the store and secrets before the workloads that mount them.
const beforeWorkloads = { 'argocd.argoproj.io/sync-wave': '-1' };

export function secretSync(
  values: Values,
  component: Component,
  reasons: ReadonlyMap<string, string> = new Map(),
): Rendered[] {
  const namespace = values.namespaces[component];
  const s = values.secrets;
  const component_ = 'secret-sync';
  const wanted = syncedSecrets(values).filter((x) => x.component === component);
  if (wanted.length === 0) return [];
  return [
    {
      object: new ServiceAccount({
        metadata: meta(values, {
          name: s.serviceAccountName,
          namespace,
          component: component_,
          annotations: { ...beforeWorkloads, 'eks.amazonaws.com/role-arn': s.roleArns[component] },
        }),
        // Only ESO uses this account, through the TokenRequest API; no pod mounts it.
        automountServiceAccountToken: false,
      }),
    },
    {
      object: new SecretStore({
        metadata: meta(values, { name: s.storeName, namespace, component: component_, annotations: beforeWorkloads }),
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
            name: `${s.storeName}-${secret.secretName}`,
            namespace,
            component: component_,
            app: secret.secretName,
            annotations: beforeWorkloads,
          }),
          spec: {
            refreshInterval: s.refreshInterval,
            refreshPolicy: 'Periodic',
            secretStoreRef: { kind: 'SecretStore', name: s.storeName },
            target: {
              name: secret.secretName,
              creationPolicy: 'Owner',
              // Retain: a transient not-found at AWS must never delete the Secret pods are using.
              deletionPolicy: 'Retain',
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

