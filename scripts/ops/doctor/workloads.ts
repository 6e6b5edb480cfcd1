// Checks shared by the tiers' workloads: a Service and its ready endpoints, a Deployment's
// replicas, and what a stuck pod most likely means.
import { condition } from '../conditions';
import type { Kube, KubeObject } from '../kube';
import type { Outcome } from './check';

export async function checkEndpoints(
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

export async function checkDeployment(kube: Kube, namespace: string, name: string): Promise<Outcome> {
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

/** "postgres-0: CrashLoopBackOff" for a pod that is stuck, else ''. */
export function podProblem(pod: KubeObject): string {
  const statuses: any[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const waiting = statuses.map((c) => c?.state?.waiting?.reason).find((r) => r && r !== 'PodInitializing');
  if (waiting) return `${pod.metadata.name}: ${waiting}`;
  const scheduled = condition(pod, 'PodScheduled');
  if (scheduled?.status === 'False') return `${pod.metadata.name}: ${scheduled.reason ?? 'Unschedulable'}`;
  return '';
}

export function likelyPodCause(problems: string): string | undefined {
  if (/CreateContainerConfigError/.test(problems)) return 'a ConfigMap or Secret the pod references is missing';
  if (/ImagePull|ErrImage/.test(problems)) return 'the image cannot be pulled: wrong tag or registry access';
  if (/CrashLoopBackOff/.test(problems)) return 'the container keeps exiting: read its logs (kubectl logs --previous)';
  if (/Unschedulable/.test(problems)) return 'no node fits the pod: resources, quota or an unbound PersistentVolumeClaim';
  if (/ContainerCreating/.test(problems)) return 'still starting, or a volume (Secret, PVC) cannot be mounted: see the pod events';
  return undefined;
}
