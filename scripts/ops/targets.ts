// What the ops tools look for in one environment: names from the platform values, and the
// NetworkPolicies from the rendered manifests (what review saw is what should be running).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { environments, loadValues, type Values } from '../../platform/values';
import { parseDuration } from './conditions';

export type Tier = 'database' | 'backend' | 'frontend';
/** Deploy order: each tier depends on the one before. */
export const tiers: readonly Tier[] = ['database', 'backend', 'frontend'];

export interface SyncedSecret {
  tier: Tier;
  namespace: string;
  /** The Kubernetes Secret ESO writes (the ExternalSecret's target). */
  secret: string;
  /** The Secrets Manager secret it comes from. */
  awsSecret: string;
}

export interface OpsTargets {
  env: string;
  clusterDomain: string;
  namespaces: Record<Tier, string>;
  database: { namespace: string; statefulSet: string; service: string; port: number; podLabel: string };
  api: { namespace: string; service: string; configMap: string };
  web: { namespace: string; deployment: string; service: string; configMap: string };
  secretStore: string;
  secrets: SyncedSecret[];
  /** ESO's refresh interval; a last sync much older than this means syncing stopped. */
  refreshIntervalMs: number;
  /** NetworkPolicy names per tier, from platform/rendered/<env>/; empty when not rendered. */
  networkPolicies: Record<Tier, string[]>;
  /** Where the manifests of each tier are, for `kubectl apply -f` suggestions. */
  manifests: Record<Tier, string>;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const renderedDir = join(root, 'platform', 'rendered');

export { environments };

export function targetsFor(env: string, rendered = renderedDir): OpsTargets {
  return targetsFromValues(loadValues(env), rendered);
}

export function targetsFromValues(values: Values, rendered = renderedDir): OpsTargets {
  const ns = values.namespaces;
  const k = values.secrets.kubernetes;
  const aws = (name: string) => `${values.secrets.awsPrefix}/${name}`;
  const envDir = join(rendered, values.environment);
  const manifests = Object.fromEntries(
    tiers.map((t) => [t, relative(process.cwd(), join(envDir, t)) || '.']),
  ) as Record<Tier, string>;
  return {
    env: values.environment,
    clusterDomain: values.clusterDomain,
    namespaces: { database: ns.database, backend: ns.backend, frontend: ns.frontend },
    database: {
      namespace: ns.database,
      statefulSet: values.database.statefulSetName,
      service: values.database.serviceName,
      port: values.database.port,
      podLabel: `app.kubernetes.io/name=${values.database.statefulSetName}`,
    },
    api: { namespace: ns.backend, service: values.api.serviceName, configMap: values.api.configMapName },
    web: {
      namespace: ns.frontend,
      deployment: values.web.deploymentName,
      service: values.web.serviceName,
      configMap: values.web.configMapName,
    },
    secretStore: values.secrets.storeName,
    secrets: [
      { tier: 'database', namespace: ns.database, secret: k.postgresAdmin, awsSecret: aws(values.secrets.aws.dbAdmin) },
      { tier: 'database', namespace: ns.database, secret: k.appCredentials, awsSecret: aws(values.secrets.aws.dbApp) },
      { tier: 'backend', namespace: ns.backend, secret: k.databaseCredentials, awsSecret: aws(values.secrets.aws.dbApp) },
      { tier: 'backend', namespace: ns.backend, secret: k.internalToken, awsSecret: aws(values.secrets.aws.internalToken) },
      { tier: 'frontend', namespace: ns.frontend, secret: k.internalToken, awsSecret: aws(values.secrets.aws.internalToken) },
    ],
    refreshIntervalMs: parseDuration(values.secrets.refreshInterval) ?? 3_600_000,
    networkPolicies: Object.fromEntries(tiers.map((t) => [t, renderedNetworkPolicies(join(envDir, t))])) as Record<Tier, string[]>,
    manifests,
  };
}

/** Names of the NetworkPolicies among a tier's rendered manifests. */
export function renderedNetworkPolicies(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const names: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      const o = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
      if (o?.kind === 'NetworkPolicy' && o.metadata?.name) names.push(o.metadata.name);
    }
  }
  return names;
}
