// Wave 1: the API's configuration, then the Knative Service and its latest revision.
import { condition, conditionsOf, explain } from '../conditions';
import type { Kube, KubeObject } from '../kube';
import { KubeError } from '../kube-error';
import { phaseOf } from '../snapshot';
import type { OpsTargets } from '../targets';
import type { Check, CheckContext, Outcome } from './check';
import { checkConfigMapHosts } from './config-hosts';

export async function apiChecks({ kube, t, earlier, inTier }: CheckContext): Promise<Check[]> {
  const api = t.api;
  const config = await inTier('backend', { id: `configmap/${api.namespace}/${api.configMap}`, group: 'api', title: `ConfigMap ${api.configMap}: DNS names resolve to Services` }, () =>
    checkConfigMapHosts(kube, t, api.namespace, api.configMap, 'backend'),
  );
  // A revision that cannot start is most often a missing Secret: say so when the secrets checks failed.
  const secretFailures = earlier.filter((c) => c.group === 'secrets' && c.id.includes(`/${api.namespace}/`) && c.verdict === 'fail');
  const ksvc = await inTier('backend', { id: `ksvc/${api.namespace}/${api.service}`, group: 'api', title: `Knative Service ${api.service} Ready` }, () =>
    checkKnativeService(kube, t, secretFailures),
  );
  return [config, ksvc];
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
