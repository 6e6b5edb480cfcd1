// Reads rendered manifests back as plain objects and finds the pods they will run, so checks can
// look at exactly what `kubectl apply` or Argo CD would see.
import { parseAllDocuments } from 'yaml';
import type { Pod, PodPort, Protocol } from './network-reachability';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  ports?: { name?: string; containerPort: number; protocol?: Protocol; hostPort?: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string }; configMapKeyRef?: { name: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  readinessProbe?: Record<string, unknown>;
  livenessProbe?: Record<string, unknown>;
  startupProbe?: Record<string, unknown>;
  lifecycle?: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: {
    name: string;
    secret?: { secretName: string };
    configMap?: { name: string };
    projected?: { sources: { secret?: { name: string }; configMap?: { name: string } }[] };
    [type: string]: unknown;
  }[];
  securityContext?: Record<string, unknown>;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  imagePullSecrets?: { name: string }[];
  [field: string]: unknown;
}

/** A pod template found in a workload, with where it will run. */
export interface PodTemplate {
  owner: K8sObject;
  namespace: string;
  labels: Record<string, string>;
  spec: PodSpec;
}

/** Parse rendered YAML text (one or more documents) into objects. */
export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length > 0) throw new Error(d.errors.map((e) => e.message).join('\n'));
    return d.toJSON() as K8sObject;
  });
}

/** All objects of a rendered environment (file path → text). */
export function objectsOf(files: Map<string, string>): K8sObject[] {
  return [...files.values()].flatMap(parseManifests);
}

const get = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);

/** The pod templates of Deployments, StatefulSets, Jobs and Knative Services. */
export function podTemplates(objects: K8sObject[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const o of objects) {
    const template =
      o.kind === 'Service' && o.apiVersion.startsWith('serving.knative.dev/')
        ? get(o, 'spec', 'template')
        : ['Deployment', 'StatefulSet', 'Job', 'DaemonSet', 'ReplicaSet'].includes(o.kind)
          ? get(o, 'spec', 'template')
          : o.kind === 'CronJob'
            ? get(o, 'spec', 'jobTemplate', 'spec', 'template')
            : o.kind === 'Pod'
              ? o
              : undefined;
    if (!template) continue;
    out.push({
      owner: o,
      namespace: o.metadata.namespace ?? 'default',
      labels: (get(template, 'metadata', 'labels') as Record<string, string>) ?? {},
      spec: get(template, 'spec') as PodSpec,
    });
  }
  return out;
}

export const isKnativeService = (o: K8sObject) => o.kind === 'Service' && o.apiVersion.startsWith('serving.knative.dev/');

/** Names of the Secrets a pod template reads, however it reads them. */
export function secretsReferenced(pod: PodTemplate): string[] {
  const names = new Set<string>();
  for (const v of pod.spec.volumes ?? []) {
    if (v.secret) names.add(v.secret.secretName);
    for (const s of v.projected?.sources ?? []) if (s.secret) names.add(s.secret.name);
  }
  for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) names.add(e.valueFrom.secretKeyRef.name);
    for (const e of c.envFrom ?? []) if (e.secretRef) names.add(e.secretRef.name);
  }
  for (const s of pod.spec.imagePullSecrets ?? []) names.add(s.name);
  return [...names].sort();
}

/**
 * The pods a template will run, as the network sees them. A Knative revision pod also gets the
 * labels Knative adds and queue-proxy's ports (traffic enters there, not at the app's port).
 */
export function networkPod(pod: PodTemplate, knativePorts: { queueProxy: number; metrics: number }): Pod {
  const ports: PodPort[] = pod.spec.containers.flatMap((c) =>
    (c.ports ?? []).map((p) => ({ port: p.containerPort, protocol: p.protocol ?? 'TCP', ...(p.name ? { name: p.name } : {}) })),
  );
  const labels = { ...pod.labels };
  if (isKnativeService(pod.owner)) {
    labels['serving.knative.dev/service'] = pod.owner.metadata.name;
    ports.push({ port: knativePorts.queueProxy, protocol: 'TCP', name: 'http' });
    ports.push({ port: knativePorts.metrics, protocol: 'TCP', name: 'http-autometric' });
  }
  return { id: `${pod.namespace}/${pod.owner.metadata.name}`, namespace: pod.namespace, labels, ports };
}
