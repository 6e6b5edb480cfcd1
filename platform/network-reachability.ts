// Evaluates NetworkPolicies the way the Kubernetes network model defines them, so tests (and
// people) can ask "may this pod open a connection to that pod on this port?" without a cluster.
// A connection needs both sides to agree: the source's egress and the destination's ingress.
// https://kubernetes.io/docs/concepts/services-networking/network-policies/

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type Labels = Record<string, string>;

export interface PodPort {
  port: number;
  protocol: Protocol;
  name?: string;
}

export interface Pod {
  /** A readable id, e.g. "backend/tasks-api". */
  id: string;
  namespace: string;
  labels: Labels;
  ports: PodPort[];
  /** IPv4 address, for ipBlock peers; an endpoint outside the cluster (S3) is a Pod with only an ip that matters. */
  ip?: string;
}

interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

interface PolicyPort {
  protocol?: Protocol;
  port?: number | string;
  endPort?: number;
}

export interface NetworkPolicy {
  metadata: { name: string; namespace: string };
  spec: {
    podSelector: LabelSelector;
    policyTypes?: ('Ingress' | 'Egress')[];
    ingress?: { from?: PolicyPeer[]; ports?: PolicyPort[] }[];
    egress?: { to?: PolicyPeer[]; ports?: PolicyPort[] }[];
  };
}

export interface Cluster {
  /** Namespace name → its labels (kubernetes.io/metadata.name is added automatically). */
  namespaces: Record<string, Labels>;
  pods: Pod[];
  policies: NetworkPolicy[];
}

export function selects(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const inValues = has && (e.values ?? []).includes(labels[e.key]!);
    const ok =
      e.operator === 'In' ? inValues : e.operator === 'NotIn' ? !inValues : e.operator === 'Exists' ? has : !has;
    if (!ok) return false;
  }
  return true;
}

function ipv4(address: string): number {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${address}`);
  return parts.reduce((n, p) => n * 256 + p, 0);
}

/** Whether an IPv4 address lies in a CIDR block such as 10.0.0.0/8. */
export function inCidr(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(address) / size) === Math.floor(ipv4(base) / size);
}

function namespaceLabels(cluster: Cluster, ns: string): Labels {
  return { ...(cluster.namespaces[ns] ?? {}), 'kubernetes.io/metadata.name': ns };
}

/** Whether a policy peer (in a policy of namespace `policyNs`) matches pod `other`. */
function peerMatches(cluster: Cluster, peer: PolicyPeer, policyNs: string, other: Pod): boolean {
  if (peer.ipBlock) {
    const { cidr, except = [] } = peer.ipBlock;
    if (other.ip !== undefined) return inCidr(other.ip, cidr) && !except.some((e) => inCidr(other.ip!, e));
    // Without the pod's address only "everything" can be decided.
    const all = cidr === '0.0.0.0/0' || cidr === '::/0';
    if (!all || except.length > 0) throw new Error(`ipBlock ${cidr} cannot be evaluated against ${other.id}, which has no ip`);
    return true;
  }
  const nsOk = peer.namespaceSelector
    ? selects(peer.namespaceSelector, namespaceLabels(cluster, other.namespace))
    : other.namespace === policyNs;
  return nsOk && selects(peer.podSelector, other.labels);
}

/** Whether a rule's ports admit `port/protocol` on destination pod `dst` (named ports resolve there). */
function portMatches(ports: PolicyPort[] | undefined, dst: Pod, port: number, protocol: Protocol): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'string') {
      return dst.ports.some((dp) => dp.name === p.port && dp.port === port && dp.protocol === protocol);
    }
    return p.endPort !== undefined ? port >= p.port && port <= p.endPort : port === p.port;
  });
}

function policyTypes(policy: NetworkPolicy): ('Ingress' | 'Egress')[] {
  // Kubernetes' default: Ingress always, Egress only when the policy has egress rules.
  return policy.spec.policyTypes ?? (policy.spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
}

function policiesFor(cluster: Cluster, pod: Pod, type: 'Ingress' | 'Egress'): NetworkPolicy[] {
  return cluster.policies.filter(
    (p) =>
      p.metadata.namespace === pod.namespace &&
      selects(p.spec.podSelector, pod.labels) &&
      policyTypes(p).includes(type),
  );
}

export function egressAllowed(cluster: Cluster, src: Pod, dst: Pod, port: number, protocol: Protocol): boolean {
  const policies = policiesFor(cluster, src, 'Egress');
  if (policies.length === 0) return true; // not isolated for egress
  return policies.some((p) =>
    (p.spec.egress ?? []).some(
      (rule) =>
        (!rule.to || rule.to.length === 0 || rule.to.some((peer) => peerMatches(cluster, peer, p.metadata.namespace, dst))) &&
        portMatches(rule.ports, dst, port, protocol),
    ),
  );
}

export function ingressAllowed(cluster: Cluster, src: Pod, dst: Pod, port: number, protocol: Protocol): boolean {
  const policies = policiesFor(cluster, dst, 'Ingress');
  if (policies.length === 0) return true; // not isolated for ingress
  return policies.some((p) =>
    (p.spec.ingress ?? []).some(
      (rule) =>
        (!rule.from ||
          rule.from.length === 0 ||
          rule.from.some((peer) => peerMatches(cluster, peer, p.metadata.namespace, src))) &&
        portMatches(rule.ports, dst, port, protocol),
    ),
  );
}

/** May `src` open a connection to `dst` on `port`? Both egress and ingress must allow it. */
export function canConnect(cluster: Cluster, src: Pod, dst: Pod, port: number, protocol: Protocol = 'TCP'): boolean {
  return egressAllowed(cluster, src, dst, port, protocol) && ingressAllowed(cluster, src, dst, port, protocol);
}

/** Every allowed connection to a port a pod listens on, as "src -> dst:port/proto", sorted. */
export function reachability(cluster: Cluster, from = cluster.pods, to = cluster.pods): string[] {
  const edges: string[] = [];
  for (const src of from) {
    for (const dst of to) {
      if (src === dst) continue; // a pod talking to itself never leaves the pod
      for (const { port, protocol } of dst.ports) {
        if (canConnect(cluster, src, dst, port, protocol)) edges.push(`${src.id} -> ${dst.id}:${port}/${protocol}`);
      }
    }
  }
  return edges.sort();
}
