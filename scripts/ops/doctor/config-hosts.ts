// The cluster DNS names a ConfigMap points at (the API's database host, nginx's API upstream):
// each must name a Service that exists, in the namespace it says, on a port the Service exposes.
import type { Kube } from '../kube';
import type { OpsTargets, Tier } from '../targets';
import type { Outcome } from './check';

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

export async function checkConfigMapHosts(kube: Kube, t: OpsTargets, namespace: string, name: string, tier: Tier): Promise<Outcome> {
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
