// Read-only access to the cluster the kubeconfig in use points at. The ops commands only ever
// get and list, so everything goes through the small `Kube` interface below: the real client here,
// an in-memory one in the unit tests.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  NetworkingV1Api,
  VersionApi,
} from '@kubernetes/client-node';
import { KubeError, errorText } from './kube-error';

/** A Kubernetes object as the API returns it; only the fields the ops tools read are typed. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string | Date;
    deletionTimestamp?: string | Date;
    [key: string]: unknown;
  };
  spec?: any;
  status?: any;
  data?: Record<string, string>;
  [key: string]: unknown;
}

/** Every kind the ops tools read, with where it lives in the API. */
export const kinds = {
  Namespace: { group: '', version: 'v1', plural: 'namespaces', namespaced: false },
  Service: { group: '', version: 'v1', plural: 'services', namespaced: true },
  ConfigMap: { group: '', version: 'v1', plural: 'configmaps', namespaced: true },
  Secret: { group: '', version: 'v1', plural: 'secrets', namespaced: true },
  Pod: { group: '', version: 'v1', plural: 'pods', namespaced: true },
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
  StatefulSet: { group: 'apps', version: 'v1', plural: 'statefulsets', namespaced: true },
  CronJob: { group: 'batch', version: 'v1', plural: 'cronjobs', namespaced: true },
  Job: { group: 'batch', version: 'v1', plural: 'jobs', namespaced: true },
  EndpointSlice: { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespaced: true },
  NetworkPolicy: { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespaced: true },
  KnativeService: { group: 'serving.knative.dev', version: 'v1', plural: 'services', namespaced: true },
  Revision: { group: 'serving.knative.dev', version: 'v1', plural: 'revisions', namespaced: true },
  PodAutoscaler: {
    group: 'autoscaling.internal.knative.dev',
    version: 'v1alpha1',
    plural: 'podautoscalers',
    namespaced: true,
  },
  ServerlessService: {
    group: 'networking.internal.knative.dev',
    version: 'v1alpha1',
    plural: 'serverlessservices',
    namespaced: true,
  },
  ExternalSecret: { group: 'external-secrets.io', version: 'v1', plural: 'externalsecrets', namespaced: true },
  SecretStore: { group: 'external-secrets.io', version: 'v1', plural: 'secretstores', namespaced: true },
} as const;

export type Kind = keyof typeof kinds;

/** `kubectl`'s name for a kind, used in the commands the tools suggest. */
export function kubectlResource(kind: Kind): string {
  const k = kinds[kind];
  return k.group === '' ? k.plural : `${k.plural}.${k.group}`;
}

export interface Kube {
  /** Where the kubeconfig points: shown in headers and in error messages. */
  readonly context: string;
  readonly server: string;
  /** The cluster's version; the first call, so it also proves the cluster is reachable. */
  version(): Promise<string>;
  /** One object, or undefined when it does not exist. */
  get(kind: Kind, namespace: string, name: string): Promise<KubeObject | undefined>;
  /** Objects of a kind in a namespace; `labelSelector` is `key=value[,key=value]`. */
  list(kind: Kind, namespace: string, labelSelector?: string): Promise<KubeObject[]>;
  /**
   * The first `limitBytes` of a container's log (its current instance), as `kubectl logs
   * --limit-bytes` reads it. Needs `get pods/log`; optional, so a `Kube` without it reads no logs.
   */
  podLog?(namespace: string, pod: string, container: string, limitBytes: number): Promise<string>;
}

export interface KubeOptions {
  /** A kubeconfig context other than the current one. */
  context?: string;
  /** Per-request time limit; a cluster that does not answer is as good as unreachable. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** The kubeconfig file(s) kubectl would use, or undefined when there is none. */
export function kubeconfigSource(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.KUBECONFIG) return env.KUBECONFIG;
  const file = join(env.HOME ?? homedir(), '.kube', 'config');
  if (existsSync(file)) return file;
  if (existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) return 'in-cluster service account';
  return undefined;
}

const POINT_AT_CLUSTER = 'Point KUBECONFIG at your cluster (e.g. `aws eks update-kubeconfig --name <cluster>`).';

/**
 * The sentence every cluster command (deploy, doctor, watch:scale) prints when no cluster is
 * configured, with what to do; undefined when one is. No cluster is: no KUBECONFIG, no
 * ~/.kube/config and not in a pod; a KUBECONFIG whose files (`:`-separated, as kubectl reads it)
 * none exist; or kubeconfig files that are all empty (/dev/null). Asked before any client is made:
 * client-node and kubectl would otherwise fall back to http://localhost:8080 and report only
 * "connection refused" (or client-node a TypeError for an empty file).
 */
export function noClusterConfigured(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const source = kubeconfigSource(env);
  if (!source) return `no cluster configured: no KUBECONFIG, no ~/.kube/config and not running in a pod. ${POINT_AT_CLUSTER}`;
  if (source === 'in-cluster service account') return undefined;
  const files = env.KUBECONFIG ? env.KUBECONFIG.split(delimiter).filter(Boolean) : [source];
  const present = files.filter((f) => existsSync(f));
  if (present.length === 0) return `no cluster configured: KUBECONFIG names ${files.join(', ')}, which does not exist. ${POINT_AT_CLUSTER}`;
  const empty = (f: string) => {
    try {
      return readFileSync(f, 'utf8').trim() === '';
    } catch {
      return false; // unreadable: loadKubeConfig names the reason
    }
  };
  if (present.every(empty)) return `no cluster configured: the kubeconfig ${present.join(', ')} is empty. ${POINT_AT_CLUSTER}`;
  return undefined;
}

/**
 * Load the kubeconfig in use (KUBECONFIG, ~/.kube/config, or the pod's service account).
 * Without one, client-node would silently try http://localhost:8080; say so instead.
 */
export function loadKubeConfig(options: KubeOptions = {}): KubeConfig {
  const env = options.env ?? process.env;
  const none = noClusterConfigured(env);
  if (none) throw new KubeError('no-config', none);
  const kc = new KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (err) {
    throw new KubeError('no-config', `cannot read the kubeconfig (${kubeconfigSource(env)}): ${errorText(err)}`);
  }
  if (options.context) {
    if (!kc.getContextObject(options.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new KubeError(
        'no-config',
        `no context "${options.context}" in the kubeconfig (known: ${known.join(', ') || 'none'})`,
      );
    }
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new KubeError('no-config', `the kubeconfig's current context "${kc.getCurrentContext()}" names no cluster`);
  }
  return kc;
}

/** A `Kube` backed by the real API server the kubeconfig points at. */
export function connect(options: KubeOptions = {}): Kube {
  const kc = loadKubeConfig(options);
  const server = kc.getCurrentCluster()!.server;
  const context = kc.getCurrentContext();
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const versionApi = kc.makeApiClient(VersionApi);
  const timeoutMs = options.timeoutMs ?? 10_000;

  const call = <T>(what: Request, fn: () => Promise<T>) =>
    withTimeout(fn(), timeoutMs, what.text, server).catch((err) => {
      throw toKubeError(err, what, server, context);
    });

  async function getRaw(kind: Kind, namespace: string, name: string): Promise<unknown> {
    switch (kind) {
      case 'Namespace':
        return core.readNamespace({ name });
      case 'Service':
        return core.readNamespacedService({ name, namespace });
      case 'ConfigMap':
        return core.readNamespacedConfigMap({ name, namespace });
      case 'Secret':
        return core.readNamespacedSecret({ name, namespace });
      case 'Pod':
        return core.readNamespacedPod({ name, namespace });
      case 'Deployment':
        return apps.readNamespacedDeployment({ name, namespace });
      case 'StatefulSet':
        return apps.readNamespacedStatefulSet({ name, namespace });
      case 'EndpointSlice':
        return discovery.readNamespacedEndpointSlice({ name, namespace });
      case 'NetworkPolicy':
        return networking.readNamespacedNetworkPolicy({ name, namespace });
      default: {
        const { group, version, plural } = kinds[kind];
        return custom.getNamespacedCustomObject({ group, version, namespace, plural, name });
      }
    }
  }

  async function listRaw(kind: Kind, namespace: string, labelSelector?: string): Promise<{ items: unknown[] }> {
    switch (kind) {
      case 'Namespace':
        return core.listNamespace({ labelSelector });
      case 'Service':
        return core.listNamespacedService({ namespace, labelSelector });
      case 'ConfigMap':
        return core.listNamespacedConfigMap({ namespace, labelSelector });
      case 'Secret':
        return core.listNamespacedSecret({ namespace, labelSelector });
      case 'Pod':
        return core.listNamespacedPod({ namespace, labelSelector });
      case 'Deployment':
        return apps.listNamespacedDeployment({ namespace, labelSelector });
      case 'StatefulSet':
        return apps.listNamespacedStatefulSet({ namespace, labelSelector });
      case 'EndpointSlice':
        return discovery.listNamespacedEndpointSlice({ namespace, labelSelector });
      case 'NetworkPolicy':
        return networking.listNamespacedNetworkPolicy({ namespace, labelSelector });
      default: {
        const { group, version, plural } = kinds[kind];
        return custom.listNamespacedCustomObject({ group, version, namespace, plural, labelSelector });
      }
    }
  }

  return {
    context,
    server,
    async version() {
      const info = await call({ text: 'read the server version' }, () => versionApi.getCode());
      return info.gitVersion;
    },
    async get(kind, namespace, name) {
      try {
        return (await call(describe('get', kind, namespace, name), () => getRaw(kind, namespace, name))) as KubeObject;
      } catch (err) {
        if (err instanceof KubeError && err.reason === 'not-found') return undefined;
        throw err;
      }
    },
    async list(kind, namespace, labelSelector) {
      const result = await call(describe('list', kind, namespace), () => listRaw(kind, namespace, labelSelector));
      return (result.items ?? []) as KubeObject[];
    },
    async podLog(namespace, pod, container, limitBytes) {
      const what = { text: `read the log of pod ${pod} (container ${container}) in namespace ${namespace}`, canI: `kubectl auth can-i get pods/log -n ${namespace}` };
      return call(what, () => core.readNamespacedPodLog({ name: pod, namespace, container, limitBytes }));
    },
  };
}

/** What a request was, in words, and the `kubectl auth can-i` line that checks its permission. */
interface Request {
  text: string;
  canI?: string;
}

function describe(verb: 'get' | 'list', kind: Kind, namespace: string, name?: string): Request {
  const namespaced = kinds[kind].namespaced;
  const resource = kubectlResource(kind);
  return {
    text: `${verb} ${resource}${name ? ` ${name}` : ''}${namespaced ? ` in namespace ${namespace}` : ''}`,
    canI: `kubectl auth can-i ${verb} ${resource}${namespaced ? ` -n ${namespace}` : ''}`,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string, server: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new KubeError('unreachable', `the cluster at ${server} did not answer within ${ms / 1000}s (${what})`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Turn whatever client-node threw into a KubeError that says what to do about it. */
export function toKubeError(err: unknown, request: Request | string, server: string, context = ''): KubeError {
  if (err instanceof KubeError) return err;
  const { text: what, canI } = typeof request === 'string' ? { text: request, canI: undefined } : request;
  if (err instanceof ApiException) {
    const status = statusMessage(err.body);
    switch (err.code) {
      case 401:
        return new KubeError(
          'unauthorized',
          `the cluster at ${server} rejected the credentials of context "${context}" (401); log in again`,
          401,
        );
      case 403:
        return new KubeError(
          'forbidden',
          `no permission to ${what} (403)${status ? `: ${status}` : ''}.${canI ? ` Check with \`${canI}\`.` : ''}`,
          403,
        );
      case 404:
        return new KubeError('not-found', `not found: ${what}${status ? ` (${status})` : ''}`, 404);
      default:
        return new KubeError('api', `the API server answered ${err.code} to "${what}"${status ? `: ${status}` : ''}`, err.code);
    }
  }
  const code = networkCode(err);
  if (code) {
    return new KubeError('unreachable', `cannot reach the cluster at ${server} (${code}); is the cluster up and the context "${context}" right?`);
  }
  return new KubeError('api', `failed to ${what}: ${errorText(err)}`);
}

/** The `message` of a Kubernetes Status body, if that is what the server sent. */
function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.slice(0, 200) || undefined;
    }
  }
  if (parsed && typeof parsed === 'object' && 'message' in parsed && typeof parsed.message === 'string') {
    return parsed.message;
  }
  return undefined;
}

const networkCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN']);

function networkCode(err: unknown): string | undefined {
  for (let e: any = err, depth = 0; e && depth < 5; e = e.cause, depth++) {
    if (typeof e.code === 'string' && networkCodes.has(e.code)) return e.code;
    if (typeof e.errno === 'string' && networkCodes.has(e.errno)) return e.errno;
  }
  return undefined;
}
