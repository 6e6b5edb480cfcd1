// The namespaces, one per tier: the gate for every other group (a missing one skips its checks).
import type { Kube, KubeObject } from '../kube';
import { KubeError } from '../kube-error';
import { type OpsTargets, type Tier, tiers } from '../targets';
import { guard, type Check, type CheckContext, type Outcome } from './check';

/** One check per tier's namespace, in deploy order. Not skipped: these decide what is skipped. */
export async function namespaceChecks({ kube, t }: CheckContext): Promise<Check[]> {
  const checks: Check[] = [];
  for (const tier of tiers) {
    const ns = t.namespaces[tier];
    checks.push(await guard({ id: `namespace/${ns}`, group: 'namespaces', title: `namespace ${ns}` }, () => checkNamespace(kube, t, tier)));
  }
  return checks;
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
