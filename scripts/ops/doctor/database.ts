// Wave 0: the PostgreSQL StatefulSet and the Service clients connect to.
import type { Kube } from '../kube';
import type { OpsTargets } from '../targets';
import type { Check, CheckContext, Outcome } from './check';
import { checkEndpoints, likelyPodCause, podProblem } from './workloads';

export async function databaseChecks({ kube, t, inTier }: CheckContext): Promise<Check[]> {
  const db = t.database;
  return [
    await inTier('database', { id: `statefulset/${db.namespace}/${db.statefulSet}`, group: 'database', title: `StatefulSet ${db.statefulSet} ready` }, () =>
      checkStatefulSet(kube, t),
    ),
    await inTier('database', { id: `service/${db.namespace}/${db.service}`, group: 'database', title: `Service ${db.service} has ready endpoints` }, () =>
      checkEndpoints(kube, db.namespace, db.service, {
        port: db.port,
        noEndpointsCause: `no ready postgres pod behind the Service (see the StatefulSet check), or the Service selector does not match the pod labels (${db.podLabel})`,
        podsCommand: `kubectl get pods -n ${db.namespace} -l ${db.podLabel}`,
      }),
    ),
  ];
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
