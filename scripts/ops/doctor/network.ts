// NetworkPolicies: default deny plus one allow per path; a missing one blocks or opens traffic.
// What is expected is what `npm run render` produced for the environment.
import type { Kube } from '../kube';
import { type OpsTargets, type Tier, tiers } from '../targets';
import type { Check, CheckContext, Outcome } from './check';

export async function networkPolicyChecks({ kube, t, inTier }: CheckContext): Promise<Check[]> {
  const checks: Check[] = [];
  for (const tier of tiers) {
    const ns = t.namespaces[tier];
    checks.push(await inTier(tier, { id: `networkpolicies/${ns}`, group: 'network', title: `NetworkPolicies in ${ns}` }, () => checkNetworkPolicies(kube, t, tier)));
  }
  return checks;
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
