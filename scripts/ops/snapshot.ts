// The scaling picture of one Knative Service, built from the objects Knative keeps in the API:
// the Service (traffic split), its Revisions, each Revision's PodAutoscaler (desired/actual pods),
// ServerlessService (Proxy = activator in the path, Serve = straight to pods), Deployment
// (pods requested from Kubernetes) and Pods (ready, pending, and how long each took to start).
import {
  type Condition,
  type ConditionStatus,
  condition,
  conditionStatus,
  conditionsOf,
  explain,
  toIso,
  toMillis,
} from './conditions';
import { type Kind, type Kube, type KubeObject, kubectlResource } from './kube';
import { KubeError } from './kube-error';

/**
 * Where a revision stands, in ops terms:
 * - zero: scaled to zero, the activator answers and will cold-start a pod on the next request
 * - waking: the autoscaler wants pods but none is ready yet (requests are queued in the activator)
 * - scaling-up / scaling-down: desired and actual pod counts differ
 * - bursting: pods are serving but the activator is in the path again, because the load outgrew the
 *   spare capacity (target burst capacity); this is when the autoscaler typically panics
 * - steady: serving with as many pods as wanted
 * - failed: the revision is not Ready (bad image, crashing container, missing secret, ...)
 * - retired: no traffic is routed to it and it holds no pods
 */
export type RevisionPhase = 'zero' | 'waking' | 'scaling-up' | 'scaling-down' | 'bursting' | 'steady' | 'failed' | 'retired';

export interface PodCounts {
  /** What the autoscaler wants (PodAutoscaler status.desiredScale); null until it has decided. */
  desired: number | null;
  /** Ready pods the autoscaler counts (PodAutoscaler status.actualScale). */
  actual: number | null;
  /** Replicas asked of Kubernetes (the revision Deployment's spec.replicas). */
  requested: number | null;
  ready: number;
  pending: number;
  notReady: number;
  terminating: number;
}

export interface RevisionView {
  name: string;
  /** Percent of the Service's traffic routed here (0 when none). */
  traffic: number;
  tags: string[];
  latestCreated: boolean;
  latestReady: boolean;
  ready: ConditionStatus;
  /** Why the revision is not Ready, from its failing condition. */
  reason?: string;
  createdAt?: string;
  phase: RevisionPhase;
  /** ServerlessService mode: Proxy = through the activator, Serve = straight to pods. */
  mode: 'Proxy' | 'Serve' | null;
  /** PodAutoscaler Active condition: True (serving), Unknown (activating), False (inactive). */
  active: ConditionStatus;
  activeReason?: string;
  pods: PodCounts;
  autoscaling: {
    class?: string;
    metric?: string;
    target?: number;
    minScale?: number;
    maxScale?: number;
    containerConcurrency?: number;
  };
}

/** One pod's way from created to ready: where a cold start's time went. */
export interface PodStart {
  pod: string;
  revision: string;
  createdAt: string;
  /** Seconds from creation until the pod was scheduled onto a node. */
  scheduledAfter?: number;
  /** Seconds from scheduling until the app container ran (image pull + container start). */
  startedAfter?: number;
  /** Seconds from the container running until the pod was Ready (app start + readiness probe). */
  readyAfter?: number;
  /** Seconds from creation to Ready; absent while the pod is not ready yet. */
  total?: number;
  readyAt?: string;
  /** Still on its way: waiting reason of the app container (ContainerCreating, ImagePullBackOff, ...). */
  waiting?: string;
}

export interface ScaleSnapshot {
  takenAt: string;
  context: string;
  namespace: string;
  service: {
    name: string;
    ready: ConditionStatus;
    reason?: string;
    url?: string;
    latestCreatedRevision?: string;
    latestReadyRevision?: string;
    conditions: Condition[];
  };
  revisions: RevisionView[];
  /** Pod starts of the pods that exist now, newest first. */
  podStarts: PodStart[];
  totals: { desired: number; actual: number; ready: number; pending: number };
  /** What could not be read (no permission), so the view is known to be partial. */
  unreadable: string[];
}

/** Everything read from the API for one snapshot. */
export interface ScaleObjects {
  service: KubeObject;
  revisions: KubeObject[];
  autoscalers: KubeObject[];
  serverlessServices: KubeObject[];
  deployments: KubeObject[];
  pods: KubeObject[];
  /** Kinds the caller may not list (403); the snapshot says what it is missing. */
  unreadable?: string[];
}

const SERVICE_LABEL = 'serving.knative.dev/service';
const REVISION_LABEL = 'serving.knative.dev/revision';
// Knative adds queue-proxy beside the app's container; the app's is any other.
const QUEUE_PROXY = 'queue-proxy';

/** Read the objects behind one Knative Service. */
export async function readScaleObjects(kube: Kube, namespace: string, name: string): Promise<ScaleObjects> {
  const service = await kube.get('KnativeService', namespace, name);
  if (!service) {
    throw new KubeError(
      'not-found',
      `no Knative Service "${name}" in namespace "${namespace}" (context ${kube.context}). ` +
        `Is it deployed? Check with \`kubectl get ksvc -n ${namespace}\`.`,
      404,
    );
  }
  const selector = `${SERVICE_LABEL}=${name}`;
  const unreadable: string[] = [];
  // Knative's internal kinds are often outside a namespace viewer's role: without them the view
  // loses detail (falls back to the Revision's own counts), so a 403 there is a note, not the end.
  const optional = (kind: Kind) =>
    kube.list(kind, namespace, selector).catch((err: unknown) => {
      if (!(err instanceof KubeError && err.reason === 'forbidden')) throw err;
      unreadable.push(kubectlResource(kind));
      return [] as KubeObject[];
    });
  const [revisions, autoscalers, serverlessServices, deployments, pods] = await Promise.all([
    kube.list('Revision', namespace, selector),
    optional('PodAutoscaler'),
    optional('ServerlessService'),
    optional('Deployment'),
    optional('Pod'),
  ]);
  return { service, revisions, autoscalers, serverlessServices, deployments, pods, unreadable: unreadable.sort() };
}

export async function takeSnapshot(kube: Kube, namespace: string, name: string, now = Date.now()): Promise<ScaleSnapshot> {
  return buildSnapshot(await readScaleObjects(kube, namespace, name), { context: kube.context, now });
}

/** Pure: objects in, view model out. */
export function buildSnapshot(objects: ScaleObjects, opts: { context: string; now: number }): ScaleSnapshot {
  const { service } = objects;
  const namespace = service.metadata.namespace ?? '';
  const status = service.status ?? {};
  const traffic = trafficByRevision(status.traffic, status.latestReadyRevisionName);
  const byName = <T extends KubeObject>(items: T[]) => new Map(items.map((o) => [o.metadata.name, o]));
  const autoscalers = byName(objects.autoscalers);
  const sks = byName(objects.serverlessServices);
  const deployments = new Map(
    objects.deployments.map((d) => [d.metadata.labels?.[REVISION_LABEL] ?? d.metadata.name.replace(/-deployment$/, ''), d]),
  );

  const revisions = [...objects.revisions]
    .sort((a, b) => revisionOrder(b) - revisionOrder(a))
    .map((rev) => {
      const name = rev.metadata.name;
      const pods = objects.pods.filter((p) => p.metadata.labels?.[REVISION_LABEL] === name);
      return revisionView(rev, {
        traffic: traffic.get(name),
        latestCreated: status.latestCreatedRevisionName === name,
        latestReady: status.latestReadyRevisionName === name,
        pa: autoscalers.get(name),
        sks: sks.get(name),
        deployment: deployments.get(name),
        pods,
      });
    });

  const podStarts = objects.pods
    .map(podStart)
    .filter((p): p is PodStart => p !== undefined)
    .sort((a, b) => (toMillis(b.createdAt) ?? 0) - (toMillis(a.createdAt) ?? 0));

  const ready = condition(service, 'Ready');
  return {
    takenAt: new Date(opts.now).toISOString(),
    context: opts.context,
    namespace,
    service: {
      name: service.metadata.name,
      ready: ready?.status ?? 'Unknown',
      ...(ready && ready.status !== 'True' ? { reason: explain(failing(service) ?? ready) } : {}),
      ...(status.url ? { url: String(status.url) } : {}),
      ...(status.latestCreatedRevisionName ? { latestCreatedRevision: status.latestCreatedRevisionName } : {}),
      ...(status.latestReadyRevisionName ? { latestReadyRevision: status.latestReadyRevisionName } : {}),
      conditions: conditionsOf(service),
    },
    revisions,
    podStarts,
    totals: {
      desired: revisions.reduce((n, r) => n + Math.max(0, r.pods.desired ?? 0), 0),
      actual: revisions.reduce((n, r) => n + Math.max(0, r.pods.actual ?? 0), 0),
      ready: revisions.reduce((n, r) => n + r.pods.ready, 0),
      pending: revisions.reduce((n, r) => n + r.pods.pending, 0),
    },
    unreadable: objects.unreadable ?? [],
  };
}

interface Related {
  traffic?: { percent: number; tags: string[] };
  latestCreated: boolean;
  latestReady: boolean;
  pa?: KubeObject;
  sks?: KubeObject;
  deployment?: KubeObject;
  pods: KubeObject[];
}

function revisionView(rev: KubeObject, rel: Related): RevisionView {
  const annotations = { ...rev.spec?.template?.metadata?.annotations, ...rev.metadata.annotations, ...rel.pa?.metadata.annotations };
  // Without the PodAutoscaler, the Revision's own (coarser) copies of the counts stand in.
  const paStatus = rel.pa?.status ?? {};
  const pods = podCounts(rel.pods, {
    desired: numberOrNull(paStatus.desiredScale ?? rev.status?.desiredReplicas),
    actual: numberOrNull(paStatus.actualScale ?? rev.status?.actualReplicas),
    requested: numberOrNull(rel.deployment?.spec?.replicas),
  });
  const readyCondition = condition(rev, 'Ready');
  const ready = readyCondition?.status ?? 'Unknown';
  const mode = rel.sks?.spec?.mode === 'Proxy' || rel.sks?.spec?.mode === 'Serve' ? rel.sks.spec.mode : null;
  const active = condition(rel.pa, 'Active');
  const view: RevisionView = {
    name: rev.metadata.name,
    traffic: rel.traffic?.percent ?? 0,
    tags: rel.traffic?.tags ?? [],
    latestCreated: rel.latestCreated,
    latestReady: rel.latestReady,
    ready,
    ...(ready === 'False' ? { reason: explain(failing(rev) ?? readyCondition) } : {}),
    ...(toIso(rev.metadata.creationTimestamp) ? { createdAt: toIso(rev.metadata.creationTimestamp) } : {}),
    phase: 'steady',
    mode,
    active: active?.status ?? 'Unknown',
    ...(active?.reason ? { activeReason: active.reason } : {}),
    pods,
    autoscaling: {
      ...stringProp('class', annotations['autoscaling.knative.dev/class']),
      ...stringProp('metric', annotations['autoscaling.knative.dev/metric']),
      ...numberProp('target', annotations['autoscaling.knative.dev/target']),
      ...numberProp('minScale', annotations['autoscaling.knative.dev/min-scale']),
      ...numberProp('maxScale', annotations['autoscaling.knative.dev/max-scale']),
      ...numberProp('containerConcurrency', rev.spec?.containerConcurrency),
    },
  };
  view.phase = phaseOf(view);
  return view;
}

/** Decide the phase from counts and modes; see RevisionPhase for the meanings. */
export function phaseOf(r: Pick<RevisionView, 'ready' | 'traffic' | 'mode' | 'pods' | 'tags'>): RevisionPhase {
  const { desired, actual } = r.pods;
  const have = actual ?? r.pods.ready;
  if (r.ready === 'False') return 'failed';
  if (desired !== null && desired > 0 && have === 0) return 'waking';
  // Proxy mode with pods serving and more wanted: Knative put the activator back because the
  // spare capacity ran out. (Scaling to zero also switches to Proxy, but then desired is 0.)
  if (have > 0 && r.mode === 'Proxy' && desired !== null && desired > 0) return 'bursting';
  if (desired !== null && desired > have) return 'scaling-up';
  if (desired !== null && desired >= 0 && desired < have) return 'scaling-down';
  if (have > 0) return 'steady';
  if (r.traffic === 0 && r.tags.length === 0) return 'retired';
  return 'zero';
}

function podCounts(pods: KubeObject[], fromAutoscaler: Pick<PodCounts, 'desired' | 'actual' | 'requested'>): PodCounts {
  const counts: PodCounts = { ...fromAutoscaler, ready: 0, pending: 0, notReady: 0, terminating: 0 };
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp) counts.terminating++;
    else if (conditionStatus(pod, 'Ready') === 'True') counts.ready++;
    else if (pod.status?.phase === 'Pending') counts.pending++;
    else counts.notReady++;
  }
  return counts;
}

/** Timing of one pod from created to ready, from its conditions and the app container's start. */
export function podStart(pod: KubeObject): PodStart | undefined {
  const revision = pod.metadata.labels?.[REVISION_LABEL];
  const created = toMillis(pod.metadata.creationTimestamp);
  if (!revision || created === undefined) return undefined;
  const scheduledCond = condition(pod, 'PodScheduled');
  const readyCond = condition(pod, 'Ready');
  const scheduled = scheduledCond?.status === 'True' ? toMillis(scheduledCond.lastTransitionTime) : undefined;
  const ready = readyCond?.status === 'True' ? toMillis(readyCond.lastTransitionTime) : undefined;
  const statuses: any[] = pod.status?.containerStatuses ?? [];
  const app = statuses.find((c) => c?.name !== QUEUE_PROXY);
  const started = toMillis(app?.state?.running?.startedAt);
  const waiting: string | undefined = app?.state?.waiting?.reason ?? (scheduled === undefined ? scheduledCond?.reason ?? 'Pending' : undefined);
  const seconds = (from?: number, to?: number) =>
    from !== undefined && to !== undefined && to >= from ? (to - from) / 1000 : undefined;
  const out: PodStart = { pod: pod.metadata.name, revision, createdAt: new Date(created).toISOString() };
  const scheduledAfter = seconds(created, scheduled);
  const startedAfter = seconds(scheduled, started);
  const readyAfter = seconds(started, ready);
  const total = seconds(created, ready);
  if (scheduledAfter !== undefined) out.scheduledAfter = scheduledAfter;
  if (startedAfter !== undefined) out.startedAfter = startedAfter;
  if (readyAfter !== undefined) out.readyAfter = readyAfter;
  if (total !== undefined) {
    out.total = total;
    out.readyAt = new Date(ready!).toISOString();
  } else if (waiting) {
    out.waiting = waiting;
  }
  return out;
}

/** Traffic percent and tags per revision; `latestRevision: true` targets resolve to the latest ready one. */
function trafficByRevision(targets: unknown, latestReady: string | undefined): Map<string, { percent: number; tags: string[] }> {
  const out = new Map<string, { percent: number; tags: string[] }>();
  if (!Array.isArray(targets)) return out;
  for (const t of targets) {
    const name: string | undefined = t?.revisionName ?? (t?.latestRevision ? latestReady : undefined);
    if (!name) continue;
    const entry = out.get(name) ?? { percent: 0, tags: [] };
    entry.percent += Number(t.percent ?? 0);
    if (t.tag) entry.tags.push(String(t.tag));
    out.set(name, entry);
  }
  return out;
}

/** The first non-True condition other than Ready, which usually says why Ready is not True. */
function failing(obj: KubeObject): Condition | undefined {
  const conds = conditionsOf(obj);
  return conds.find((c) => c.type !== 'Ready' && c.status === 'False') ?? conds.find((c) => c.type !== 'Ready' && c.status === 'Unknown' && c.message);
}

/** Knative names revisions <config>-00001, -00002, ...: order by that number, then by age. */
function revisionOrder(rev: KubeObject): number {
  const gen = Number(rev.metadata.labels?.['serving.knative.dev/configurationGeneration']);
  if (Number.isFinite(gen)) return gen;
  const m = /-(\d+)$/.exec(rev.metadata.name);
  return m ? Number(m[1]) : (toMillis(rev.metadata.creationTimestamp) ?? 0) / 1e12;
}

function numberOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function numberProp<K extends string>(key: K, v: unknown): { [P in K]?: number } {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? ({ [key]: n } as { [P in K]: number }) : {};
}

function stringProp<K extends string>(key: K, v: unknown): { [P in K]?: string } {
  return typeof v === 'string' && v ? ({ [key]: v } as { [P in K]: string }) : {};
}
