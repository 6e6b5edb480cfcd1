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

/**
 * One pod's way from created to its first answered request: where a cold start's time went.
 * Each phase is the time since the one before it, from the pod's conditions (lastTransitionTime,
 * 1 s resolution) and, for the last one, the API's own log line for its first request.
 */
export interface PodStart {
  pod: string;
  revision: string;
  createdAt: string;
  /** Seconds from creation until the pod was scheduled onto a node (PodScheduled). */
  scheduledAfter?: number;
  /** Seconds from scheduling until the init containers were done and the volumes set up (Initialized). */
  initializedAfter?: number;
  /** Seconds from that until every container was running and passing its readiness probe (ContainersReady): image pull, container start, the app's start. */
  containersReadyAfter?: number;
  /** Seconds from ContainersReady until the pod was Ready (readiness gates; usually 0). */
  readyAfter?: number;
  /**
   * Seconds from Ready until the API answered its first request that is not a probe (the
   * `"coldStart":true` line of its log: the request the activator held during the cold start).
   * Absent until that line is in the log, or when the log cannot be read.
   */
  firstRequestAfter?: number;
  /** When that first request was answered (the log line's time). */
  firstRequestAt?: string;
  /** Seconds from creation to Ready; absent while the pod is not ready yet. Leaves out the first request: see `answeredAfter`. */
  total?: number;
  /** Seconds from creation until the first request was answered (`total` + `firstRequestAfter`): the whole start as a caller waits it. Absent while that phase is not known. */
  answeredAfter?: number;
  readyAt?: string;
  /** Still on its way: waiting reason of the app container (ContainerCreating, ImagePullBackOff, ...). */
  waiting?: string;
}

/** The phases of a pod start, in order, with the names the view and the events use. */
export const START_PHASES = [
  ['scheduledAfter', 'scheduled'],
  ['initializedAfter', 'initialized'],
  ['containersReadyAfter', 'containers ready'],
  ['readyAfter', 'ready'],
  ['firstRequestAfter', 'first request'],
] as const;
export type StartPhase = (typeof START_PHASES)[number][0];

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
  /** Per pod, when the API answered its first request (from the app container's log); see PodStart. */
  firstRequests?: Record<string, string>;
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
  const firstRequests = await readFirstRequests(kube, namespace, pods, unreadable);
  return { service, revisions, autoscalers, serverlessServices, deployments, pods, firstRequests, unreadable: unreadable.sort() };
}

/** The start of the log holds the first request's line: the listening line and a few probes come before it. */
const LOG_BYTES = 64 * 1024;
/** A pod without the line yet is asked again after this long (a pod nobody has sent a request to yet). */
const LOG_RETRY_MS = 30_000;
/** Per cluster connection: found times, by pod uid (a pod's first request never changes), and when a pod was last asked in vain. */
const logMemory = new WeakMap<Kube, { seen: Map<string, string>; asked: Map<string, number> }>();

/**
 * When each ready pod's API answered its first request: the `"coldStart":true` line near the
 * start of the app container's log (request-log.ts), read once per pod. The start-up metric
 * (`tasks_api_startup_seconds`) says the same but is only on the pod's /metrics, behind the
 * internal token, which the cluster's objects do not carry. A 403 (no `get pods/log`) is noted
 * as unreadable; any other failure (the container restarting) just leaves the phase out.
 */
async function readFirstRequests(kube: Kube, namespace: string, pods: KubeObject[], unreadable: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (!kube.podLog) return out;
  const now = Date.now();
  let memory = logMemory.get(kube);
  if (!memory) logMemory.set(kube, (memory = { seen: new Map(), asked: new Map() }));
  const { seen: firstRequestSeen, asked: firstRequestAsked } = memory;
  await Promise.all(
    pods.map(async (pod) => {
      const key = String(pod.metadata.uid ?? `${namespace}/${pod.metadata.name}`);
      const seen = firstRequestSeen.get(key);
      if (seen) return void (out[pod.metadata.name] = seen);
      if (conditionStatus(pod, 'Ready') !== 'True' || pod.metadata.deletionTimestamp) return;
      if (now - (firstRequestAsked.get(key) ?? -Infinity) < LOG_RETRY_MS) return;
      const container = (pod.spec?.containers ?? []).map((c: { name?: string }) => c?.name).find((n: unknown) => typeof n === 'string' && n !== QUEUE_PROXY);
      if (!container) return;
      let log: string;
      try {
        log = await kube.podLog!(namespace, pod.metadata.name, container, LOG_BYTES);
      } catch (err) {
        if (err instanceof KubeError && err.reason === 'forbidden' && !unreadable.includes('pods/log')) unreadable.push('pods/log');
        return;
      }
      const at = firstRequestTime(log);
      if (at) {
        firstRequestSeen.set(key, at);
        out[pod.metadata.name] = at;
      } else firstRequestAsked.set(key, now);
    }),
  );
  return out;
}

/** The time of the API's cold-start request line in a log (JSON lines), or undefined. */
export function firstRequestTime(log: string): string | undefined {
  for (const line of log.split('\n')) {
    if (!line.includes('"coldStart":true')) continue;
    try {
      const time = toIso((JSON.parse(line) as { time?: string }).time);
      if (time) return time;
    } catch {
      // a line cut by the byte limit, or not JSON
    }
  }
  return undefined;
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
    .map((pod) => podStart(pod, objects.firstRequests?.[pod.metadata.name]))
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

/** Timing of one pod from created to its first answered request, from its conditions and (when known) the API's log. */
export function podStart(pod: KubeObject, firstRequestAt?: string): PodStart | undefined {
  const revision = pod.metadata.labels?.[REVISION_LABEL];
  const created = toMillis(pod.metadata.creationTimestamp);
  if (!revision || created === undefined) return undefined;
  const at = (type: string) => {
    const c = condition(pod, type);
    return c?.status === 'True' ? toMillis(c.lastTransitionTime) : undefined;
  };
  const scheduled = at('PodScheduled');
  const initialized = at('Initialized');
  const containersReady = at('ContainersReady');
  const ready = at('Ready');
  const answered = toMillis(firstRequestAt);
  const statuses: any[] = pod.status?.containerStatuses ?? [];
  const app = statuses.find((c) => c?.name !== QUEUE_PROXY);
  const waiting: string | undefined = app?.state?.waiting?.reason ?? (scheduled === undefined ? condition(pod, 'PodScheduled')?.reason ?? 'Pending' : undefined);
  const seconds = (from?: number, to?: number) =>
    from !== undefined && to !== undefined && to >= from ? (to - from) / 1000 : undefined;
  const out: PodStart = { pod: pod.metadata.name, revision, createdAt: new Date(created).toISOString() };
  const phases: Record<StartPhase, number | undefined> = {
    scheduledAfter: seconds(created, scheduled),
    initializedAfter: seconds(scheduled, initialized),
    containersReadyAfter: seconds(initialized, containersReady),
    readyAfter: seconds(containersReady, ready),
    // Ready has 1 s resolution and the log line milliseconds: a request answered within the
    // second Ready was recorded in counts as 0, not as a negative time.
    firstRequestAfter: ready !== undefined && answered !== undefined && answered >= ready - 1000 ? Math.max(0, answered - ready) / 1000 : undefined,
  };
  for (const [key] of START_PHASES) if (phases[key] !== undefined) out[key] = phases[key];
  if (phases.firstRequestAfter !== undefined) out.firstRequestAt = new Date(answered!).toISOString();
  const total = seconds(created, ready);
  if (total !== undefined) {
    out.total = total;
    out.readyAt = new Date(ready!).toISOString();
    if (phases.firstRequestAfter !== undefined) out.answeredAfter = Math.round((total + phases.firstRequestAfter) * 1000) / 1000;
  } else if (waiting) {
    out.waiting = waiting;
  }
  return out;
}

/** A phase that took clearly longer than in the other starts it is compared with. */
export interface PhaseGrowth {
  pod: string;
  phase: StartPhase;
  seconds: number;
  /** The median of the same phase over the other starts. */
  medianSeconds: number;
  /** How many other starts that median is of. */
  of: number;
}

/**
 * Which phase of each start grew: at least twice the median of the same phase over the other
 * starts (`others`: the other pods shown and the starts seen earlier in the window) and at least
 * 2 s more, since the conditions have 1 s resolution. A start is compared only with starts
 * other than itself, and only with two or more of them (one other start is no median).
 */
export function grownPhases(starts: PodStart[], others: PodStart[] = []): PhaseGrowth[] {
  const pool = new Map<string, PodStart>();
  for (const s of [...others, ...starts]) pool.set(s.pod, s);
  const out: PhaseGrowth[] = [];
  for (const s of starts) {
    for (const [phase] of START_PHASES) {
      const v = s[phase];
      if (v === undefined) continue;
      const rest = [...pool.values()].filter((o) => o.pod !== s.pod && o[phase] !== undefined).map((o) => o[phase]!);
      if (rest.length < 2) continue;
      const m = median(rest);
      if (v >= 2 * m && v >= m + 2) out.push({ pod: s.pod, phase, seconds: v, medianSeconds: m, of: rest.length });
    }
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
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
