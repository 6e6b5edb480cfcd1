// Evaluates the rendered NetworkPolicies as a graph: which pod may open a connection to which
// port. The platform's own pods carry the labels Knative, Kourier and CoreDNS really use (not
// the values), so a wrong label in values fails here.
import { describe, expect, it } from 'vitest';
import { environments, loadValues, type Values } from './values';
import { manifests } from './render';
import { networkPod, podTemplates, type K8sObject } from './inspect';
import { reachability, type Cluster, type NetworkPolicy, type Pod } from './network-reachability';

function renderedObjects(values: Values): K8sObject[] {
  return [...manifests(values).values()].flatMap((objs) => objs.map((r) => JSON.parse(JSON.stringify(r.object))));
}

const platformPods: Pod[] = [
  { id: 'kube-system/coredns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' }, ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] },
  { id: 'kourier-system/gateway', namespace: 'kourier-system', labels: { app: '3scale-kourier-gateway' }, ports: [{ port: 8081, protocol: 'TCP' }] },
  { id: 'knative-serving/activator', namespace: 'knative-serving', labels: { app: 'activator' }, ports: [{ port: 8012, protocol: 'TCP' }] },
  { id: 'knative-serving/autoscaler', namespace: 'knative-serving', labels: { app: 'autoscaler' }, ports: [{ port: 8080, protocol: 'TCP' }] },
  { id: 'ingress-nginx/controller', namespace: 'ingress-nginx', labels: { 'app.kubernetes.io/name': 'ingress-nginx' }, ports: [{ port: 80, protocol: 'TCP' }] },
  { id: 'monitoring/pushgateway', namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'prometheus-pushgateway' }, ports: [{ port: 9091, protocol: 'TCP' }] },
];

/** Outside the cluster: a public S3 (and STS, KMS) address, and the node's metadata service. */
const external: Pod[] = [
  { id: 'internet/s3', namespace: 'internet', labels: {}, ports: [{ port: 443, protocol: 'TCP' }], ip: '52.219.170.1' },
  { id: 'link-local/imds', namespace: 'link-local', labels: {}, ports: [{ port: 80, protocol: 'TCP' }, { port: 443, protocol: 'TCP' }], ip: '169.254.169.254' },
];

/** Pods that must get nothing: an unrelated tenant, one wearing the API's labels, debug pods in our namespaces. */
function strangers(values: Values): Pod[] {
  const apiLabels = { 'app.kubernetes.io/name': values.api.serviceName };
  return [
    { id: 'other/tenant', namespace: 'other', labels: { app: 'tenant' }, ports: [{ port: 8080, protocol: 'TCP' }] },
    { id: 'other/impostor', namespace: 'other', labels: apiLabels, ports: [] },
    { id: `${values.namespaces.backend}/debug`, namespace: values.namespaces.backend, labels: { app: 'debug' }, ports: [] },
    { id: `${values.namespaces.database}/debug`, namespace: values.namespaces.database, labels: { app: 'debug' }, ports: [] },
    { id: `${values.namespaces.frontend}/debug`, namespace: values.namespaces.frontend, labels: { app: 'debug' }, ports: [] },
  ];
}

function cluster(values: Values): { cluster: Cluster; ours: Set<string> } {
  const objects = renderedObjects(values);
  const ours = new Set(Object.values(values.namespaces));
  const k = values.platform.knative;
  // Every pod gets an address in the VPC's private range (as with the AWS VPC CNI), so ipBlock rules decide.
  const pods: Pod[] = [
    ...podTemplates(objects).map((p) => networkPod(p, { queueProxy: k.queueProxyPort, metrics: k.metricsPort })),
    ...platformPods,
    ...strangers(values),
  ].map((p, i) => ({ ...p, ip: `10.0.${Math.floor(i / 200)}.${(i % 200) + 10}` }));
  pods.push(...external);
  const namespaces = Object.fromEntries(
    [...ours, 'kube-system', 'kourier-system', 'knative-serving', 'ingress-nginx', 'monitoring', 'other', 'internet', 'link-local'].map((n) => [n, {}]),
  );
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy') as unknown as NetworkPolicy[];
  return { cluster: { namespaces, pods, policies }, ours };
}

function edgesTouching(c: { cluster: Cluster; ours: Set<string> }): string[] {
  const nsOf = (id: string) => id.split('/')[0]!;
  return reachability(c.cluster).filter((edge) => {
    const [src, dst] = edge.split(' -> ') as [string, string];
    if (external.some((e) => e.id === src)) return false; // destinations only
    return c.ours.has(nsOf(src)) || c.ours.has(nsOf(dst));
  });
}

// Both environments, and prod with every namespace renamed: references must follow the values.
const prod = loadValues('prod');
const cases: [string, Values][] = [
  ...environments.map((env): [string, Values] => [env, loadValues(env)]),
  ['prod, namespaces renamed', { ...prod, namespaces: { frontend: 'shop-web', backend: 'shop-api', database: 'shop-db' } }],
];

describe.each(cases)('network policies (%s)', (_, values) => {
  const { frontend: F, backend: B, database: D } = values.namespaces;
  const web = `${F}/${values.web.deploymentName}`;
  const api = `${B}/${values.api.serviceName}`;
  const pg = `${D}/${values.database.statefulSetName}`;
  const migrate = `${D}/${values.database.migration.jobName}`;
  const backup = `${D}/${values.backups.backup.cronJobName}`;
  const restoreCheck = `${D}/${values.backups.restoreCheck.cronJobName}`;
  const dns = ['kube-system/coredns:53/TCP', 'kube-system/coredns:53/UDP'];

  it('denies by default in every namespace, for ingress and egress', () => {
    const { cluster: c } = cluster(values);
    for (const ns of [F, B, D]) {
      const deny = c.policies.filter(
        (p) => p.metadata.namespace === ns && Object.keys(p.spec.podSelector).length === 0,
      );
      expect(deny, ns).toHaveLength(1);
      expect(deny[0]!.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(deny[0]!.spec.ingress ?? []).toEqual([]);
      expect(deny[0]!.spec.egress ?? []).toEqual([]);
    }
  });

  it('allows exactly the request path and DNS', () => {
    const c = cluster(values);
    // Anyone outside our namespaces may load the page: the pods without egress rules of their own
    // (the endpoints outside the cluster are destinations here, not callers).
    const outsiders = c.cluster.pods.filter((p) => !c.ours.has(p.namespace) && !external.some((e) => e.id === p.id)).map((p) => p.id);
    const expected = [
      ...outsiders.map((src) => `${src} -> ${web}:8080/TCP`),
      `${web} -> kourier-system/gateway:8081/TCP`,
      ...dns.map((d) => `${web} -> ${d}`),
      `kourier-system/gateway -> ${api}:8012/TCP`,
      `knative-serving/activator -> ${api}:8012/TCP`,
      `knative-serving/autoscaler -> ${api}:9090/TCP`,
      `${api} -> ${pg}:5432/TCP`,
      ...dns.map((d) => `${api} -> ${d}`),
      `${migrate} -> ${pg}:5432/TCP`,
      ...dns.map((d) => `${migrate} -> ${d}`),
      `${migrate} -> internet/s3:443/TCP`,
      `${backup} -> ${pg}:5432/TCP`,
      ...dns.map((d) => `${backup} -> ${d}`),
      `${backup} -> internet/s3:443/TCP`,
      `${backup} -> monitoring/pushgateway:9091/TCP`,
      ...dns.map((d) => `${restoreCheck} -> ${d}`),
      `${restoreCheck} -> internet/s3:443/TCP`,
      `${restoreCheck} -> monitoring/pushgateway:9091/TCP`,
    ].sort();
    expect(edgesTouching(c)).toEqual(expected);
  });

  it('keeps the restore check away from the real database and the backups from anything private', () => {
    const edges = edgesTouching(cluster(values));
    expect(edges.filter((e) => e.startsWith(`${restoreCheck} -> ${pg}`))).toEqual([]);
    expect(edges.filter((e) => e.startsWith(`${restoreCheck} -> `)).map((e) => e.split(' -> ')[1]!.split(':')[0])).toEqual(
      ['kube-system/coredns', 'kube-system/coredns', 'internet/s3', 'monitoring/pushgateway'].sort(),
    );
    // Port 443 leaves the cluster, never to the metadata service or another pod's 443.
    expect(edges.filter((e) => e.includes('link-local/imds'))).toEqual([]);
  });

  it('lets only the named ingress controller reach the web pods when values name one', () => {
    const withController: Values = {
      ...values,
      web: {
        ...values.web,
        ingressController: { namespace: 'ingress-nginx', podLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
      },
    };
    const sources = edgesTouching(cluster(withController))
      .filter((e) => e.endsWith(` -> ${web}:8080/TCP`))
      .map((e) => e.split(' -> ')[0]);
    expect(sources).toEqual(['ingress-nginx/controller']);
  });

  it('keeps the web pods away from the API and the database directly', () => {
    const edges = edgesTouching(cluster(values));
    expect(edges.filter((e) => e.startsWith(`${web} -> ${api}`) || e.startsWith(`${web} -> ${pg}`))).toEqual([]);
    expect(edges.filter((e) => e.startsWith('other/') && !e.endsWith(`${web}:8080/TCP`))).toEqual([]);
  });
});
