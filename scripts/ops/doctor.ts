// The connection troubleshooting tree, automated. It walks the install in deploy order
// (database → backend → frontend) the way the old checklist did by hand: namespaces, services and
// their endpoints, the DNS names the ConfigMaps point at, the ESO-synced Secrets, the database
// StatefulSet, the Knative Service, the NetworkPolicies. Every verdict carries the command to run
// next and the likely cause, so a red line is a starting point rather than a riddle.
import { condition, conditionsOf, explain, formatAge, toMillis } from './conditions';
import { type Kube, type KubeObject, KubeError, errorText } from './kube';
import { phaseOf } from './snapshot';
import { type OpsTargets, type SecretTarget, type Tier, tiers } from './targets';

export type Verdict = 'pass' | 'warn' | 'fail' | 'unknown';

export interface Check {
  /** Stable id for scripts, e.g. `secret/backend/database-credentials`. */
  id: string;
  group: 'cluster' | 'namespaces' | 'database' | 'secrets' | 'api' | 'web' | 'network';
  title: string;
  verdict: Verdict;
  detail: string;
  /** The command to run next to see more (or to fix it). */
  next?: string;
  /** What most likely causes a failure like this. */
  cause?: string;
}

export interface DoctorReport {
  env: string;
  context: string;
  server: string;
  checkedAt: string;
  ok: boolean;
  counts: Record<Verdict, number>;
  checks: Check[];
}

export interface DoctorOptions {
  now?: number;
}

/** Run every check. Never throws for cluster state; only when the cluster cannot be reached at all. */
export async function runDoctor(kube: Kube, t: OpsTargets, options: DoctorOptions = {}): Promise<DoctorReport> {
  const now = options.now ?? Date.now();
  const checks: Check[] = [];
  const version = await kube.version(); // unreachable / no config: the caller reports it
  checks.push({
    id: 'cluster',
    group: 'cluster',
    title: 'cluster reachable',
    verdict: 'pass',
    detail: `Kubernetes ${version} at ${kube.server} (context ${kube.context})`,
  });

  const present = new Set<string>();
  for (const tier of tiers) {
    const c = await guard({ id: `namespace/${t.namespaces[tier]}`, group: 'namespaces', title: `namespace ${t.namespaces[tier]}` }, () =>
      checkNamespace(kube, t, tier),
    );
    if (c.verdict !== 'fail') present.add(tier);
    checks.push(c);
  }

  const skipped = (tier: Tier, base: Omit<Check, 'verdict' | 'detail'>): Check => ({
    ...base,
    verdict: 'unknown',
    detail: `not checked: namespace ${t.namespaces[tier]} is missing`,
  });
  const inTier = async (tier: Tier, base: Omit<Check, 'verdict' | 'detail'>, run: () => Promise<Omit<Check, keyof typeof base>>) =>
    present.has(tier) ? guard(base, run) : skipped(tier, base);

  // Wave 0: the database and what it needs.
  const db = t.database;
  checks.push(
    await inTier('database', { id: `statefulset/${db.namespace}/${db.statefulSet}`, group: 'database', title: `StatefulSet ${db.statefulSet} ready` }, () =>
      checkStatefulSet(kube, t),
    ),
  );
  checks.push(
    await inTier('database', { id: `service/${db.namespace}/${db.service}`, group: 'database', title: `Service ${db.service} has ready endpoints` }, () =>
      checkEndpoints(kube, db.namespace, db.service, {
        port: db.port,
        noEndpointsCause: `no ready postgres pod behind the Service (see the StatefulSet check), or the Service selector does not match the pod labels (${db.podLabel})`,
        podsCommand: `kubectl get pods -n ${db.namespace} -l ${db.podLabel}`,
      }),
    ),
  );

  // Secrets synced by ESO, in every namespace that uses them.
  for (const tier of tiers) {
    const ns = t.namespaces[tier];
    checks.push(
      await inTier(tier, { id: `secretstore/${ns}/${t.secretStore}`, group: 'secrets', title: `SecretStore ${t.secretStore} in ${ns} valid` }, () =>
        checkSecretStore(kube, t, tier),
      ),
    );
    for (const s of t.secrets.filter((x) => x.tier === tier)) {
      checks.push(
        await inTier(tier, { id: `secret/${s.namespace}/${s.secret}`, group: 'secrets', title: `Secret ${s.namespace}/${s.secret} synced` }, () =>
          checkSyncedSecret(kube, t, s, now),
        ),
      );
    }
  }

  // Wave 1: the API's configuration, then the Knative Service.
  const api = t.api;
  checks.push(
    await inTier('backend', { id: `configmap/${api.namespace}/${api.configMap}`, group: 'api', title: `ConfigMap ${api.configMap}: DNS names resolve to Services` }, () =>
      checkConfigMapHosts(kube, t, api.namespace, api.configMap, 'backend'),
    ),
  );
  const secretFailures = checks.filter((c) => c.group === 'secrets' && c.id.includes(`/${api.namespace}/`) && c.verdict === 'fail');
  checks.push(
    await inTier('backend', { id: `ksvc/${api.namespace}/${api.service}`, group: 'api', title: `Knative Service ${api.service} Ready` }, () =>
      checkKnativeService(kube, t, secretFailures),
    ),
  );

  // Wave 2: the web tier and how it reaches the API.
  const web = t.web;
  checks.push(
    await inTier('frontend', { id: `configmap/${web.namespace}/${web.configMap}`, group: 'web', title: `ConfigMap ${web.configMap}: API upstream resolves` }, () =>
      checkConfigMapHosts(kube, t, web.namespace, web.configMap, 'frontend'),
    ),
  );
  checks.push(
    await inTier('frontend', { id: `deployment/${web.namespace}/${web.deployment}`, group: 'web', title: `Deployment ${web.deployment} ready` }, () =>
      checkDeployment(kube, web.namespace, web.deployment),
    ),
  );
  checks.push(
    await inTier('frontend', { id: `service/${web.namespace}/${web.service}`, group: 'web', title: `Service ${web.service} has ready endpoints` }, () =>
      checkEndpoints(kube, web.namespace, web.service, {
        noEndpointsCause: `no ready web pod (see the Deployment check), or the Service selector does not match the pod labels`,
        podsCommand: `kubectl get pods -n ${web.namespace} -l app.kubernetes.io/name=${web.deployment}`,
      }),
    ),
  );

  // NetworkPolicies: default deny plus one allow per path; a missing one blocks or opens traffic.
  for (const tier of tiers) {
    const ns = t.namespaces[tier];
    checks.push(
      await inTier(tier, { id: `networkpolicies/${ns}`, group: 'network', title: `NetworkPolicies in ${ns}` }, () =>
        checkNetworkPolicies(kube, t, tier),
      ),
    );
  }

  const counts: Record<Verdict, number> = { pass: 0, warn: 0, fail: 0, unknown: 0 };
  for (const c of checks) counts[c.verdict]++;
  return {
    env: t.env,
    context: kube.context,
    server: kube.server,
    checkedAt: new Date(now).toISOString(),
    ok: counts.fail === 0 && counts.unknown === 0,
    counts,
    checks,
  };
}

type Outcome = Omit<Check, 'id' | 'group' | 'title'>;

/** Run one check; a 403 or an API error makes it `unknown` with the reason, not a crash. */
async function guard(base: Pick<Check, 'id' | 'group' | 'title'>, run: () => Promise<Outcome>): Promise<Check> {
  try {
    return { ...base, ...(await run()) };
  } catch (err) {
    if (err instanceof KubeError && (err.reason === 'unreachable' || err.reason === 'unauthorized' || err.reason === 'no-config')) throw err;
    const forbidden = err instanceof KubeError && err.reason === 'forbidden';
    return {
      ...base,
      verdict: 'unknown',
      detail: errorText(err),
      ...(forbidden ? { cause: 'your user lacks read access here; ask for a read-only role on this namespace (get/list)' } : {}),
    };
  }
}

async function checkNamespace(kube: Kube, t: OpsTargets, tier: Tier): Promise<Outcome> {
  const name = t.namespaces[tier];
  let ns: KubeObject | undefined;
  try {
    ns = await kube.get('Namespace', '', name);
  } catch (err) {
    // Namespace-scoped roles cannot read Namespace objects; the checks inside still can run.
    if (!(err instanceof KubeError && err.reason === 'forbidden')) throw err;
    return {
      verdict: 'warn',
      detail: `cannot read Namespace objects (403); carrying on as if ${name} exists, the checks below show if it does not`,
      cause: 'your role is scoped to namespaces; reading Namespace objects needs a cluster-scoped get',
    };
  }
  if (!ns) {
    return {
      verdict: 'fail',
      detail: `namespace ${name} does not exist`,
      next: `kubectl apply -f ${t.manifests[tier]}/`,
      cause: `the ${tier} tier was never deployed to this cluster, or the kubeconfig points at another cluster (context ${kube.context})`,
    };
  }
  const phase = ns.status?.phase ?? 'Active';
  if (phase !== 'Active') {
    return {
      verdict: 'fail',
      detail: `namespace ${name} is ${phase}`,
      next: `kubectl get namespace ${name} -o yaml`,
      cause: 'the namespace is being deleted; a finalizer may be stuck',
    };
  }
  return { verdict: 'pass', detail: `${name} is Active` };
}

async function checkStatefulSet(kube: Kube, t: OpsTargets): Promise<Outcome> {
  const { namespace, statefulSet, podLabel } = t.database;
  const sts = await kube.get('StatefulSet', namespace, statefulSet);
  if (!sts) {
    return {
      verdict: 'fail',
      detail: `no StatefulSet ${statefulSet} in ${namespace}`,
      next: `kubectl apply -f ${t.manifests.database}/`,
      cause: 'the database tier (wave 0) was not applied',
    };
  }
  const want = sts.spec?.replicas ?? 1;
  const ready = sts.status?.readyReplicas ?? 0;
  if (ready < want) {
    const pods = await kube.list('Pod', namespace, podLabel);
    const waiting = pods.map(podProblem).filter(Boolean).join('; ');
    return {
      verdict: 'fail',
      detail: `${ready}/${want} pods ready${waiting ? ` (${waiting})` : ''}`,
      next: `kubectl describe pod ${statefulSet}-0 -n ${namespace} && kubectl logs ${statefulSet}-0 -n ${namespace}`,
      cause: likelyPodCause(waiting) ?? `postgres is not starting: a missing ${t.secrets[0]?.secret} Secret, an unbound volume claim or a failing readiness check`,
    };
  }
  return { verdict: 'pass', detail: `${ready}/${want} pods ready` };
}

async function checkEndpoints(
  kube: Kube,
  namespace: string,
  service: string,
  opts: { port?: number; noEndpointsCause: string; podsCommand: string },
): Promise<Outcome> {
  const svc = await kube.get('Service', namespace, service);
  if (!svc) {
    return {
      verdict: 'fail',
      detail: `no Service ${service} in ${namespace}`,
      next: `kubectl get svc -n ${namespace}`,
      cause: 'the Service was not applied or was renamed; clients resolving its DNS name get NXDOMAIN',
    };
  }
  const ports: number[] = (svc.spec?.ports ?? []).map((p: { port: number }) => p.port);
  if (opts.port !== undefined && !ports.includes(opts.port)) {
    return {
      verdict: 'fail',
      detail: `Service ${service} exposes ports ${ports.join(', ') || 'none'}, not ${opts.port}`,
      next: `kubectl get svc ${service} -n ${namespace} -o yaml`,
      cause: 'the Service port and the port clients use differ',
    };
  }
  const slices = await kube.list('EndpointSlice', namespace, `kubernetes.io/service-name=${service}`);
  const endpoints = slices.flatMap((s) => (Array.isArray(s.endpoints) ? (s.endpoints as any[]) : []));
  const ready = endpoints.filter((e) => e?.conditions?.ready !== false).length;
  if (ready === 0) {
    return {
      verdict: 'fail',
      detail: `Service ${service} has ${endpoints.length ? `${endpoints.length} endpoints, none ready` : 'zero endpoints'}`,
      next: `kubectl get endpointslices -n ${namespace} -l kubernetes.io/service-name=${service} && ${opts.podsCommand}`,
      cause: opts.noEndpointsCause,
    };
  }
  return { verdict: 'pass', detail: `${ready} ready endpoint${ready === 1 ? '' : 's'} on port ${ports.join(', ')}` };
}

async function checkSecretStore(kube: Kube, t: OpsTargets, tier: Tier): Promise<Outcome> {
  const ns = t.namespaces[tier];
  const store = await kube.get('SecretStore', ns, t.secretStore);
  if (!store) {
    return {
      verdict: 'fail',
      detail: `no SecretStore ${t.secretStore} in ${ns}`,
      next: `kubectl apply -f ${t.manifests[tier]}/20-secret-sync.yaml`,
      cause: 'the secret sync was not applied to this namespace, or External Secrets Operator (its CRDs) is not installed',
    };
  }
  const ready = condition(store, 'Ready');
  if (ready?.status !== 'True') {
    return {
      verdict: 'fail',
      detail: `SecretStore not Ready: ${explain(ready)}`,
      next: `kubectl describe secretstore ${t.secretStore} -n ${ns}`,
      cause: `ESO cannot authenticate to AWS from ${ns}: check the IRSA role annotation on the external-secrets ServiceAccount and the role's trust policy`,
    };
  }
  return { verdict: 'pass', detail: 'Ready' };
}

async function checkSyncedSecret(kube: Kube, t: OpsTargets, s: SecretTarget, now: number): Promise<Outcome> {
  const externalSecrets = await kube.list('ExternalSecret', s.namespace);
  const es = externalSecrets.find((e) => (e.spec?.target?.name ?? e.metadata.name) === s.secret);
  let secret: KubeObject | undefined;
  let secretUnreadable = false;
  try {
    secret = await kube.get('Secret', s.namespace, s.secret);
  } catch (err) {
    // Least-privilege ops roles often cannot read Secrets; the ExternalSecret status still tells.
    if (err instanceof KubeError && err.reason === 'forbidden') secretUnreadable = true;
    else throw err;
  }
  const describe = es ? `kubectl describe externalsecret ${es.metadata.name} -n ${s.namespace}` : undefined;

  if (!es) {
    return {
      verdict: 'fail',
      detail: secret
        ? `Secret exists but no ExternalSecret keeps it in sync with ${s.awsSecret}`
        : `Secret missing and no ExternalSecret creates it (from ${s.awsSecret})`,
      next: `kubectl apply -f ${t.manifests[s.tier]}/20-secret-sync.yaml`,
      cause:
        'the secret sync for this namespace was not applied. Secrets never cross namespaces: ' +
        `each namespace needs its own ExternalSecret, a Secret in another namespace does not help`,
    };
  }
  const ready = condition(es, 'Ready');
  const refreshed = toMillis(es.status?.refreshTime);
  const age = refreshed === undefined ? undefined : now - refreshed;
  const lastSync = age === undefined ? 'never synced' : `last sync ${formatAge(age)} ago`;
  if (ready?.status !== 'True') {
    return {
      verdict: 'fail',
      detail: `ExternalSecret ${es.metadata.name} not Ready: ${explain(ready)} (${lastSync})`,
      next: `${describe} && kubectl annotate externalsecret ${es.metadata.name} -n ${s.namespace} force-sync=$(date +%s) --overwrite`,
      cause:
        ready?.reason === 'SecretSyncedError'
          ? `ESO could not read ${s.awsSecret} from Secrets Manager: the secret or a property is missing in AWS, or the IAM role for ${s.namespace} may not read it`
          : `the SecretStore ${t.secretStore} is not usable, or ESO is not running (kubectl get pods -n external-secrets)`,
    };
  }
  if (!secret && !secretUnreadable) {
    return {
      verdict: 'fail',
      detail: `ExternalSecret ${es.metadata.name} is Ready but Secret ${s.secret} is missing (${lastSync})`,
      next: `kubectl annotate externalsecret ${es.metadata.name} -n ${s.namespace} force-sync=$(date +%s) --overwrite`,
      cause: 'the Secret was deleted after the last sync; ESO recreates it on its next refresh',
    };
  }
  // ESO updates refreshTime on every sync; several missed intervals mean syncing stopped.
  const staleAfter = 2 * t.refreshIntervalMs + 60_000;
  if (age !== undefined && age > staleAfter) {
    return {
      verdict: 'warn',
      detail: `${lastSync}, refreshInterval ${formatAge(t.refreshIntervalMs)}: a rotated password would not reach the pods`,
      next: `kubectl get pods -n external-secrets && ${describe}`,
      cause: 'the External Secrets Operator controller is down or throttled by AWS',
    };
  }
  return {
    verdict: 'pass',
    detail: `from ${s.awsSecret}, ${lastSync}${secretUnreadable ? ' (Secret itself not readable with your permissions)' : ''}`,
  };
}

/** `<service>.<namespace>.svc[.<domain>]` names in ConfigMap values, with the key they sit under. */
export function clusterHosts(data: Record<string, string> | undefined): { key: string; host: string; service: string; namespace?: string }[] {
  const out: { key: string; host: string; service: string; namespace?: string }[] = [];
  for (const [key, value] of Object.entries(data ?? {})) {
    for (const m of value.matchAll(/\b([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.[a-z0-9.-]+)?\b/g)) {
      out.push({ key, host: m[0], service: m[1]!, namespace: m[3]! });
    }
    // Keys that name a host on their own but carry a bare name: resolvable only inside the same namespace.
    if (/(_HOST|_UPSTREAM)$/.test(key) && !value.includes('.') && /^(https?:\/\/)?[a-z0-9-]+(:\d+)?$/.test(value)) {
      out.push({ key, host: value, service: value.replace(/^https?:\/\//, '').replace(/:\d+$/, '') });
    }
  }
  return out;
}

async function checkConfigMapHosts(kube: Kube, t: OpsTargets, namespace: string, name: string, tier: Tier): Promise<Outcome> {
  const cm = await kube.get('ConfigMap', namespace, name);
  if (!cm) {
    return {
      verdict: 'fail',
      detail: `no ConfigMap ${name} in ${namespace}`,
      next: `kubectl apply -f ${t.manifests[tier]}/`,
      cause: 'the tier was applied partly; pods that read it fail to start (CreateContainerConfigError)',
    };
  }
  const hosts = clusterHosts(cm.data);
  if (hosts.length === 0) {
    return { verdict: 'warn', detail: `${name} names no cluster DNS host`, next: `kubectl get configmap ${name} -n ${namespace} -o yaml` };
  }
  const problems: string[] = [];
  const causes: string[] = [];
  for (const h of hosts) {
    if (!h.namespace) {
      problems.push(`${h.key}=${h.host} is a bare name`);
      causes.push(
        `a bare service name resolves only inside ${namespace}; use ${h.service}.<namespace>.svc.${t.clusterDomain}` +
          (tier === 'frontend' ? ' (Kourier also answers 404 to a Host header without the namespace)' : ''),
      );
      continue;
    }
    const service = await kube.get('Service', h.namespace, h.service);
    const found = service ?? (await kube.get('KnativeService', h.namespace, h.service));
    if (!found) {
      problems.push(`${h.key}=${h.host}: no Service ${h.service} in namespace ${h.namespace}`);
      causes.push(`the name is wrong for this environment, or ${h.service} is not deployed in ${h.namespace}`);
      continue;
    }
    // DB_HOST goes with DB_PORT: the port must be one the Service exposes.
    const portKey = h.key.replace(/_HOST$/, '_PORT');
    const port = portKey !== h.key ? Number(cm.data?.[portKey]) : NaN;
    const ports: number[] = (service?.spec?.ports ?? []).map((p: { port: number }) => p.port);
    if (service && Number.isInteger(port) && !ports.includes(port)) {
      problems.push(`${portKey}=${port}, but Service ${h.service} exposes ${ports.join(', ') || 'no ports'}`);
      causes.push('the port in the ConfigMap and the Service port differ; connections are refused or time out');
    }
  }
  const dnsCheck = hosts.find((h) => h.namespace)?.host;
  const podLabel = tier === 'frontend' ? `app.kubernetes.io/name=${t.web.deployment}` : `app.kubernetes.io/name=${t.api.service}`;
  if (problems.length) {
    return {
      verdict: 'fail',
      detail: problems.join('; '),
      next: `kubectl get configmap ${name} -n ${namespace} -o yaml`,
      cause: [...new Set(causes)].join('; '),
    };
  }
  return {
    verdict: 'pass',
    detail: hosts.map((h) => `${h.key} → ${h.host}`).join(', '),
    // The debug pod carries the app's label so the namespace's allow-dns NetworkPolicy lets it resolve.
    ...(dnsCheck
      ? { next: `kubectl run dns-check -n ${namespace} --rm -it --restart=Never --image=busybox:1.36 --labels=${podLabel} -- nslookup ${dnsCheck}` }
      : {}),
  };
}

async function checkKnativeService(kube: Kube, t: OpsTargets, secretFailures: Check[]): Promise<Outcome> {
  const { namespace, service } = t.api;
  const ksvc = await kube.get('KnativeService', namespace, service);
  if (!ksvc) {
    return {
      verdict: 'fail',
      detail: `no Knative Service ${service} in ${namespace}`,
      next: `kubectl apply -f ${t.manifests.backend}/ && kubectl get ksvc -n ${namespace}`,
      cause: 'the backend tier (wave 1) was not applied, or Knative Serving is not installed (kubectl get crd services.serving.knative.dev)',
    };
  }
  const status = ksvc.status ?? {};
  const ready = condition(ksvc, 'Ready');
  const latest: string | undefined = status.latestCreatedRevisionName;
  const serving: string | undefined = status.latestReadyRevisionName;
  const revisionCommand = `kubectl get revisions -n ${namespace} -l serving.knative.dev/service=${service}`;

  if (ready?.status !== 'True') {
    const notTrue = conditionsOf(ksvc).filter((c) => c.type !== 'Ready' && c.status !== 'True');
    const rev = latest ? await kube.get('Revision', namespace, latest) : undefined;
    const revReason = rev ? explain(conditionsOf(rev).find((c) => c.type !== 'Ready' && c.status === 'False') ?? condition(rev, 'Ready')) : undefined;
    const detail = [
      `Ready=${ready?.status ?? 'Unknown'}`,
      ...notTrue.map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}`),
      ...(latest && revReason ? [`revision ${latest}: ${revReason}`] : []),
      ...(serving && serving !== latest ? [`traffic stays on ${serving}`] : []),
    ].join('; ');
    return {
      verdict: 'fail',
      detail,
      next: latest
        ? `kubectl describe revision ${latest} -n ${namespace} && kubectl logs -n ${namespace} -l serving.knative.dev/revision=${latest} -c ${containerName(ksvc)} --tail=50`
        : revisionCommand,
      cause: revisionCause(`${revReason ?? ''} ${explain(ready)}`, secretFailures),
    };
  }

  // Knative's internal kinds may be outside the caller's role; the scale is a bonus here.
  const readable = (p: Promise<KubeObject | undefined>) =>
    p.catch((err: unknown) => {
      if (err instanceof KubeError && err.reason === 'forbidden') return undefined;
      throw err;
    });
  const pa = serving ? await readable(kube.get('PodAutoscaler', namespace, serving)) : undefined;
  const sks = serving ? await readable(kube.get('ServerlessService', namespace, serving)) : undefined;
  const desired = typeof pa?.status?.desiredScale === 'number' ? pa.status.desiredScale : null;
  const actual = typeof pa?.status?.actualScale === 'number' ? pa.status.actualScale : null;
  const phase = pa
    ? phaseOf({
        ready: 'True',
        traffic: 100,
        tags: [],
        mode: sks?.spec?.mode ?? null,
        pods: { desired, actual, requested: null, ready: actual ?? 0, pending: 0, notReady: 0, terminating: 0 },
      })
    : undefined;
  const scale =
    phase === 'zero'
      ? 'scaled to zero (the next request cold-starts a pod)'
      : phase
        ? `${phase}, ${actual ?? '?'}/${desired ?? '?'} pods`
        : 'scale unknown';
  const detail = `Ready at ${status.url ?? '(no URL yet)'}; serving ${serving ?? '?'}, ${scale}`;
  if (latest && serving && latest !== serving) {
    return {
      verdict: 'warn',
      detail: `${detail}; newest revision ${latest} not ready yet`,
      next: `kubectl describe revision ${latest} -n ${namespace}`,
      cause: 'a rollout is in progress, or the new revision is failing while the old one keeps serving',
    };
  }
  return { verdict: 'pass', detail, next: `npm run watch:scale -- --env ${t.env}` };
}

function containerName(ksvc: KubeObject): string {
  return ksvc.spec?.template?.spec?.containers?.[0]?.name ?? 'user-container';
}

/** The likely cause of a revision failure, from Knative's reason and message. */
export function revisionCause(text: string, secretFailures: Check[] = []): string {
  if (secretFailures.length || /secret .* not found|FailedMount|MountVolume/i.test(text)) {
    const names = secretFailures.map((c) => c.title.replace(/^Secret /, '').replace(/ synced$/, ''));
    return `a Secret the pod mounts is missing${names.length ? ` (${names.join(', ')})` : ''}: fix the secret sync first (see the Secrets checks)`;
  }
  if (/ImagePull|ErrImage|Unable to fetch image|manifest unknown|not found in registry/i.test(text)) {
    return 'the image tag does not exist in the registry, or the node cannot pull from it';
  }
  if (/ExitCode|CrashLoopBackOff|Container failed|Error:/i.test(text)) {
    return 'the container exits on start: read its logs (bad configuration, a missing file in the image)';
  }
  if (/ProgressDeadlineExceeded|Initial scale was never achieved|timed out/i.test(text)) {
    return 'pods never became ready in time: readiness (/readyz) failing, or pods not scheduled (quota, resources)';
  }
  if (/quota|exceeded|forbidden/i.test(text)) {
    return 'the namespace ResourceQuota or LimitRange rejects the pods';
  }
  return 'see the revision conditions and the pod events';
}

async function checkDeployment(kube: Kube, namespace: string, name: string): Promise<Outcome> {
  const dep = await kube.get('Deployment', namespace, name);
  if (!dep) {
    return {
      verdict: 'fail',
      detail: `no Deployment ${name} in ${namespace}`,
      next: `kubectl get deployments -n ${namespace}`,
      cause: 'the frontend tier (wave 2) was not applied',
    };
  }
  const want = dep.spec?.replicas ?? 1;
  const ready = dep.status?.readyReplicas ?? 0;
  if (ready < want) {
    const pods = await kube.list('Pod', namespace, `app.kubernetes.io/name=${name}`);
    const waiting = pods.map(podProblem).filter(Boolean).join('; ');
    return {
      verdict: ready === 0 ? 'fail' : 'warn',
      detail: `${ready}/${want} replicas ready${waiting ? ` (${waiting})` : ''}`,
      next: `kubectl describe deployment ${name} -n ${namespace} && kubectl get pods -n ${namespace} -l app.kubernetes.io/name=${name}`,
      cause: likelyPodCause(waiting) ?? 'pods failing readiness (/healthz) or not scheduled',
    };
  }
  return { verdict: 'pass', detail: `${ready}/${want} replicas ready` };
}

async function checkNetworkPolicies(kube: Kube, t: OpsTargets, tier: Tier): Promise<Outcome> {
  const ns = t.namespaces[tier];
  const policies = await kube.list('NetworkPolicy', ns);
  const names = new Set(policies.map((p) => p.metadata.name));
  const expected = t.networkPolicies[tier];
  const defaultDeny = policies.some(
    (p) => Object.keys(p.spec?.podSelector ?? {}).length === 0 && !p.spec?.ingress?.length && !p.spec?.egress?.length,
  );
  const missing = expected.filter((n) => !names.has(n));
  if (missing.length) {
    const denyMissing = expected.some((n) => n.includes('deny') && missing.includes(n));
    return {
      verdict: 'fail',
      detail: `missing ${missing.join(', ')} (${names.size} present)`,
      next: `kubectl get networkpolicy -n ${ns} && kubectl apply -f ${t.manifests[tier]}/`,
      cause: denyMissing
        ? 'without the default-deny policy every pod in the namespace is reachable from anywhere'
        : 'with default-deny in place, a missing allow policy blocks that path (connections time out rather than being refused)',
    };
  }
  if (!expected.length && !defaultDeny) {
    return {
      verdict: 'warn',
      detail: `no default-deny policy among ${names.size} (nothing rendered to compare with)`,
      next: `kubectl get networkpolicy -n ${ns}`,
      cause: 'the namespace is open to all traffic',
    };
  }
  return { verdict: 'pass', detail: `${names.size} present${defaultDeny ? ', default deny' : ''}` };
}

/** "postgres-0: CrashLoopBackOff" for a pod that is stuck, else ''. */
function podProblem(pod: KubeObject): string {
  const statuses: any[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const waiting = statuses.map((c) => c?.state?.waiting?.reason).find((r) => r && r !== 'PodInitializing');
  if (waiting) return `${pod.metadata.name}: ${waiting}`;
  const scheduled = condition(pod, 'PodScheduled');
  if (scheduled?.status === 'False') return `${pod.metadata.name}: ${scheduled.reason ?? 'Unschedulable'}`;
  return '';
}

function likelyPodCause(problems: string): string | undefined {
  if (/CreateContainerConfigError/.test(problems)) return 'a ConfigMap or Secret the pod references is missing';
  if (/ImagePull|ErrImage/.test(problems)) return 'the image cannot be pulled: wrong tag or registry access';
  if (/CrashLoopBackOff/.test(problems)) return 'the container keeps exiting: read its logs (kubectl logs --previous)';
  if (/Unschedulable/.test(problems)) return 'no node fits the pod: resources, quota or an unbound PersistentVolumeClaim';
  if (/ContainerCreating/.test(problems)) return 'still starting, or a volume (Secret, PVC) cannot be mounted: see the pod events';
  return undefined;
}
