// The one table of where things are: the tiers in deploy order, the folder each environment's
// manifests are rendered to, and which Secrets each tier's namespace syncs from AWS. The templates,
// the renderer, Argo CD, the deploy plan, the AWS policies and the ops commands all read it, so
// none of them keeps its own list. Names themselves come from the values; this file only arranges them.
import type { Values } from './values';
import { PREVIOUS_TOKEN_FILE } from '../functions/api/internal-token';

/** database, backend, frontend: the keys of `namespaces` in the values; one Argo CD wave each. */
export type Tier = keyof Values['namespaces'];

/** Deploy order: each tier depends on the one before. */
export const tiers: readonly Tier[] = ['database', 'backend', 'frontend'];

export interface Wave {
  /** Argo CD sync wave of the tier's Application; also the `npm run deploy` order. */
  wave: number;
  name: Tier;
  /** Folders under platform/rendered/<env>/ that make up the wave, applied in this order. */
  dirs: string[];
}

/**
 * The previous system's waves: 0 database → 1 backend (the migration Job first, then the API)
 * → 2 frontend. The migration Job lives in the database namespace but belongs to the backend wave.
 */
export const waves: Wave[] = [
  { wave: 0, name: 'database', dirs: ['database'] },
  { wave: 1, name: 'backend', dirs: ['migrate', 'backend'] },
  { wave: 2, name: 'frontend', dirs: ['frontend'] },
];

/** Folder (relative to the repository root) holding one environment's rendered manifests. */
export const renderedDir = (env: string) => `platform/rendered/${env}`;
/** Folder holding one environment's Argo CD Applications. */
export const argocdDir = (env: string) => `platform/argocd/${env}`;
/** Folder holding one environment's alert rules: applied where Prometheus runs, not by the waves. */
export const observabilityDir = (env: string) => `platform/observability/rendered/${env}`;

/** A Kubernetes Secret that ESO creates from one AWS secret, and who reads it. */
export interface SyncedSecret {
  tier: Tier;
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

/** Every synced Secret: the single table the templates, the AWS policies, the ops tools and the docs agree on. */
export function syncedSecrets(values: Values): SyncedSecret[] {
  const k = values.secrets.kubernetes;
  const login = { username: 'username', password: 'password' };
  // Both tiers hold the current and the previous token: nginx sends both, the API accepts both, so
  // pods one rotation apart share a token whichever namespace ESO updates first (secrets/README.md).
  const tokens = { [values.secrets.internalTokenKey]: 'token', [PREVIOUS_TOKEN_FILE]: { property: 'token', version: 'AWSPREVIOUS' as const } };
  return [
    {
      tier: 'database',
      secretName: k.postgresAdmin,
      awsSecret: 'dbAdmin',
      keys: login,
      consumers: [values.database.statefulSetName, values.database.migration.jobName],
      purpose: 'owner role: initialises Postgres, runs migrations',
    },
    {
      tier: 'database',
      secretName: k.appCredentials,
      awsSecret: 'dbApp',
      keys: login,
      consumers: [values.database.migration.jobName],
      purpose: 'app role the migration ensures exists (password never reset)',
    },
    {
      tier: 'backend',
      secretName: k.databaseCredentials,
      awsSecret: 'dbApp',
      keys: { ...login, host: 'host', port: 'port', dbname: 'dbname' },
      consumers: [values.api.serviceName],
      purpose: 'what the API connects with; re-read live after rotation',
    },
    {
      tier: 'backend',
      secretName: k.internalToken,
      awsSecret: 'internalToken',
      keys: tokens,
      consumers: [values.api.serviceName],
      purpose: 'the API accepts `token` (AWSCURRENT) and `previous` (AWSPREVIOUS) on every /api request',
    },
    {
      tier: 'frontend',
      secretName: k.internalToken,
      awsSecret: 'internalToken',
      keys: tokens,
      consumers: [values.web.deploymentName],
      purpose: 'nginx sends `token, previous` with every proxied /api request, following changes without a restart',
    },
  ];
}

/** The ExternalSecret that writes a synced Secret: `<store>-<secret>`, e.g. aws-sm-database-credentials. */
export function externalSecretName(values: Values, secret: SyncedSecret): string {
  return `${values.secrets.storeName}-${secret.secretName}`;
}

