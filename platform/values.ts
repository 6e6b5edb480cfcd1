// Values for the platform render: platform/values.yaml deep-merged with values-<env>.yaml,
// validated once so every template can trust the shape.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, parse, parseDocument } from 'yaml';
import { z } from 'zod';

export const environments = ['dev', 'prod'] as const;
export type Environment = (typeof environments)[number];

const platformDir = dirname(fileURLToPath(import.meta.url));

// Kubernetes names: RFC 1123 labels (namespaces, Services, ConfigMaps, ...).
const name = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lowercase RFC 1123 name').max(63);
const labels = z.record(z.string(), z.string());
const quantity = z.string().regex(/^[0-9.]+(m|Ki|Mi|Gi|Ti)?$/, 'must be a Kubernetes quantity like 250m or 1Gi');
const port = z.number().int().min(1).max(65535);
const duration = z.string().regex(/^[0-9]+(s|m|h)$/, 'must be a duration like 30s, 1m or 1h');
const image = z.strictObject({
  repository: z.string().min(1),
  tag: z
    .string()
    .min(1)
    .refine((t) => t !== 'latest', 'pin a version; `latest` is not allowed'),
});
const resources = z.strictObject({
  requests: z.strictObject({ cpu: quantity, memory: quantity }),
  limits: z.strictObject({ cpu: quantity, memory: quantity }),
});
const quota = z.strictObject({
  requestsCpu: quantity,
  requestsMemory: quantity,
  limitsCpu: quantity,
  limitsMemory: quantity,
  pods: z.string().regex(/^[0-9]+$/),
  storage: quantity.optional(),
});
const roleArn = z.string().regex(/^arn:aws[a-z-]*:iam::[0-9]{12}:role\/.+$/, 'must be an IAM role ARN');
const cidr = z.string().regex(/^([0-9]{1,3}\.){3}[0-9]{1,3}\/[0-9]{1,2}$/, 'must be an IPv4 CIDR like 10.0.0.0/8');
// Five-field cron as the CronJob controller reads it; the alert thresholds derive from it (platform/schedule.ts).
const cron = z.string().regex(/^(\S+\s+){4}\S+$/, 'must be a five-field cron expression like */15 * * * *');
const scheduledJob = {
  cronJobName: name,
  serviceAccountName: name,
  schedule: cron,
  startingDeadlineSeconds: z.number().int().min(10),
  activeDeadlineSeconds: z.number().int().positive(),
  backoffLimit: z.number().int().min(0),
  successfulJobsHistoryLimit: z.number().int().min(0),
  failedJobsHistoryLimit: z.number().int().min(1),
  resources,
};

export const valuesSchema = z.strictObject({
  project: name,
  clusterDomain: z.string().min(1),
  features: z.strictObject({ editTask: z.boolean(), deleteTask: z.boolean() }),
  namespaces: z.strictObject({ frontend: name, backend: name, database: name }),
  images: z.strictObject({ api: image, web: image, postgres: image }),
  platform: z.strictObject({
    dns: z.strictObject({ namespace: name, podLabels: labels, port }),
    kourier: z.strictObject({ namespace: name, podLabels: labels, port }),
    knative: z.strictObject({
      namespace: name,
      activatorPodLabels: labels,
      autoscalerPodLabels: labels,
      queueProxyPort: port,
      metricsPort: port,
    }),
    pushgateway: z.strictObject({ namespace: name, serviceName: name, podLabels: labels, port }),
  }),
  database: z.strictObject({
    statefulSetName: name,
    serviceName: name,
    headlessServiceName: name,
    serviceAccountName: name,
    runAsUser: z.number().int().positive(),
    port,
    dbname: z.string().regex(/^[a-z_][a-z0-9_]*$/),
    dataMountPath: z.string().startsWith('/'),
    pgdataSubdir: name,
    storage: z.strictObject({ size: quantity, storageClassName: z.string() }),
    resources,
    shmSizeLimit: quantity,
    migration: z.strictObject({
      jobName: name,
      serviceAccountName: name,
      backoffLimit: z.number().int().min(0),
      activeDeadlineSeconds: z.number().int().positive(),
      resources,
    }),
  }),
  api: z.strictObject({
    serviceName: name,
    configMapName: name,
    serviceAccountName: name,
    port,
    runAsUser: z.number().int().positive(),
    credentialsMountPath: z.string().startsWith('/'),
    internalTokenMountPath: z.string().startsWith('/'),
    timeoutSeconds: z.number().int().min(31).max(600),
    containerConcurrency: z.number().int().min(0),
    autoscaling: z.strictObject({
      minScale: z.number().int().min(0),
      maxScale: z.number().int().min(0),
      target: z.number().int().positive(),
      scaleDownDelay: duration,
    }),
    resources,
    env: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string()),
  }),
  web: z.strictObject({
    deploymentName: name,
    serviceName: name,
    configMapName: name,
    serviceAccountName: name,
    replicas: z.number().int().min(1),
    port,
    runAsUser: z.number().int().positive(),
    servicePort: port,
    apiUrl: z.string().min(1),
    internalTokenMountPath: z.string().startsWith('/'),
    internalTokenWatchSeconds: z.number().int().min(1).max(300),
    workerConnections: z.number().int().min(512),
    resources,
    podDisruptionBudget: z.strictObject({ enabled: z.boolean(), minAvailable: z.number().int().min(1) }),
    ingress: z.strictObject({
      enabled: z.boolean(),
      className: z.string(),
      host: z.string(),
      tlsSecretName: z.string(),
    }),
    ingressController: z.strictObject({ namespace: z.string(), podLabels: labels }),
  }),
  secrets: z.strictObject({
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-[0-9]$/, 'must be an AWS region like eu-central-1'),
    awsPrefix: z.string().regex(/^[A-Za-z0-9/_+=.@-]+$/),
    aws: z.strictObject({ dbAdmin: z.string().min(1), dbApp: z.string().min(1), internalToken: z.string().min(1) }),
    kubernetes: z.strictObject({
      postgresAdmin: name,
      appCredentials: name,
      databaseCredentials: name,
      internalToken: name,
    }),
    internalTokenKey: z.string().min(1),
    storeName: name,
    serviceAccountName: name,
    refreshInterval: duration,
    kubeletSyncDelay: duration,
    rotationDays: z.number().int().min(1).max(1000),
    roleArns: z.strictObject({ frontend: roleArn, backend: roleArn, database: roleArn }),
  }),
  backups: z.strictObject({
    // S3 bucket names: 3-63 lowercase letters, digits, dots and hyphens.
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'),
    prefix: z.string().regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'must be a key prefix like prod or tasks/prod, no leading or trailing slash'),
    kmsKeyArn: z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[0-9a-f-]{36}$/, 'must be a KMS key ARN'),
    retentionDays: z.number().int().min(1).max(3650),
    objectLockMode: z.enum(['GOVERNANCE', 'COMPLIANCE']),
    oidcIssuer: z.string().regex(/^[a-z0-9.-]+\/id\/[A-Za-z0-9]+$/, 'must be the OIDC issuer host and path without https://'),
    roleArns: z.strictObject({ writer: roleArn, reader: roleArn }),
    egressCidrs: z.array(z.strictObject({ cidr, except: z.array(cidr).optional() })).min(1),
    backup: z.strictObject(scheduledJob),
    restoreCheck: z.strictObject({
      ...scheduledJob,
      scratchResources: resources,
      scratchStorage: quantity,
    }),
  }),
  argocd: z.strictObject({
    namespace: name,
    project: name,
    repoURL: z.string().min(1),
    targetRevision: z.string().min(1),
  }),
  ops: z.strictObject({ viewerGroup: z.string().min(1) }),
  quotas: z.strictObject({
    frontend: quota,
    backend: quota,
    database: quota,
  }),
  limitRangeDefaults: z.strictObject({
    request: z.strictObject({ cpu: quantity, memory: quantity }),
    limit: z.strictObject({ cpu: quantity, memory: quantity }),
  }),
  timeouts: z.strictObject({
    dbConnectMs: z.number().int().min(100),
    dbStatementMs: z.number().int().min(100),
    apiRequestMs: z.number().int().min(200),
    nginxSeconds: z.number().int().min(1),
    nginxClientSeconds: z.number().int().min(1),
  }),
});

/** Validated values plus the environment they were loaded for. */
export type Values = z.infer<typeof valuesSchema> & { environment: Environment };

export function isEnvironment(env: string): env is Environment {
  return (environments as readonly string[]).includes(env);
}

type Tree = { [key: string]: unknown };
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Maps merge key by key; anything else in `over` replaces what `base` had. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isTree(base) || !isTree(over)) return over === undefined ? base : over;
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = deepMerge(base[key], value);
  return out;
}

function readYaml(file: string): unknown {
  const doc = parse(readFileSync(file, 'utf8')) as unknown;
  return doc ?? {};
}

/** The files a given environment is made of, base first. */
export function valuesFiles(env: Environment, dir = platformDir): string[] {
  return [join(dir, 'values.yaml'), join(dir, `values-${env}.yaml`)];
}

/**
 * Load values for one environment. Throws an Error naming the environment and every bad key
 * when the environment is unknown or the merged values do not match the schema.
 */
export function loadValues(env: string, dir = platformDir): Values {
  if (!isEnvironment(env)) {
    throw new Error(`unknown environment "${env}": expected one of ${environments.join(', ')}`);
  }
  const merged = valuesFiles(env, dir).map(readYaml).reduce(deepMerge, {});
  const result = valuesSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid values for environment "${env}":\n${problems.join('\n')}`);
  }
  return { ...result.data, environment: env };
}

/** `<service>.<namespace>.svc.<clusterDomain>`: the one place service DNS names are made. */
export function serviceHost(values: Values, service: string, namespace: string): string {
  return `${service}.${namespace}.svc.${values.clusterDomain}`;
}

/** The AWS Secrets Manager name of one of the app's secrets, e.g. tasks/prod/db-app. */
export function awsSecretName(values: Values, secret: keyof Values['secrets']['aws']): string {
  return `${values.secrets.awsPrefix}/${values.secrets.aws[secret]}`;
}

/**
 * The comment written beside each scalar in the values files, by dotted path
 * (e.g. "api.autoscaling.maxScale"); the environment file's comment wins when it sets the key.
 * The render copies these reasons next to the numbers they explain.
 */
export function valueComments(env: Environment, dir = platformDir): Map<string, string> {
  const comments = new Map<string, string>();
  const walk = (node: unknown, path: string[]): void => {
    if (!isMap(node)) return;
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const here = [...path, key];
      if (isScalar(pair.value)) {
        const text = pair.value.comment?.trim();
        if (text) comments.set(here.join('.'), text);
        else comments.delete(here.join('.'));
      } else walk(pair.value, here);
    }
  };
  for (const file of valuesFiles(env, dir)) walk(parseDocument(readFileSync(file, 'utf8')).contents, []);
  return comments;
}
