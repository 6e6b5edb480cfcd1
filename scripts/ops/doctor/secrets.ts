// The Secrets External Secrets Operator syncs from AWS Secrets Manager, in every namespace that
// uses them: the namespace's SecretStore, then each ExternalSecret and the Secret it writes.
import { condition, explain, formatAge, toMillis } from '../conditions';
import type { Kube, KubeObject } from '../kube';
import { KubeError } from '../kube-error';
import { type OpsTargets, type SecretTarget, type Tier, tiers } from '../targets';
import type { Check, CheckContext, Outcome } from './check';

export async function secretChecks({ kube, t, now, inTier }: CheckContext): Promise<Check[]> {
  const checks: Check[] = [];
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
  return checks;
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
