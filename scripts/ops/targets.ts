// What the ops tools look for in one environment, in the shape they check it: tiers, namespaces
// and synced Secrets from the platform's table (platform/layout.ts), names from the values, and the
// NetworkPolicies from the rendered manifests (what review saw is what should be running).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { awsSecretName, environments, loadValues, type Values } from '../../platform/values';
import { renderedDir, syncedSecrets, tiers, type Tier } from '../../platform/layout';
import { parseDuration } from './conditions';
import { scheduleIntervalSeconds } from '../../platform/schedule';

export { tiers, type Tier };

/** One synced Secret as the ops tools look for it: where it should be and where it comes from. */
export interface SecretTarget {
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
  /** The backup CronJobs: each must have succeeded within twice its schedule interval. */
  backups: { namespace: string; cronJob: string; what: string; schedule: string; intervalMs: number }[];
  secretStore: string;
  secrets: SecretTarget[];
  /** ESO's refresh interval; a last sync much older than this means syncing stopped. */
  refreshIntervalMs: number;
  /** NetworkPolicy names per tier, from platform/rendered/<env>/; empty when not rendered. */
  networkPolicies: Record<Tier, string[]>;
  /** Where the manifests of each tier are, for `kubectl apply -f` suggestions. */
  manifests: Record<Tier, string>;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** An environment's rendered manifests as an absolute path (platform/rendered/<env>). */
export const renderedEnvDir = (env: string) => join(root, renderedDir(env));

export { environments };

export function targetsFor(env: string): OpsTargets {
  return targetsFromValues(loadValues(env));
}

export function targetsFromValues(values: Values): OpsTargets {
  const ns = values.namespaces;
  const envDir = renderedEnvDir(values.environment);
  const manifests = Object.fromEntries(
    tiers.map((t) => [t, relative(process.cwd(), join(envDir, t)) || '.']),
  ) as Record<Tier, string>;
  return {
    env: values.environment,
    clusterDomain: values.clusterDomain,
    namespaces: { ...ns },
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
    backups: (['backup', 'restoreCheck'] as const).map((which) => {
      const job = values.backups[which];
      return {
        namespace: ns.database,
        cronJob: job.cronJobName,
        what: which === 'backup' ? 'backup' : 'restore check',
        schedule: job.schedule,
        intervalMs: scheduleIntervalSeconds(job.schedule) * 1000,
      };
    }),
    secretStore: values.secrets.storeName,
    secrets: syncedSecrets(values).map((s) => ({
      tier: s.tier,
      namespace: ns[s.tier],
      secret: s.secretName,
      awsSecret: awsSecretName(values, s.awsSecret),
    })),
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
