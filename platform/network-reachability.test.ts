import { describe, expect, it } from 'vitest';
import { canConnect, selects, type Cluster, type NetworkPolicy, type Pod } from './network-reachability';

const a: Pod = { id: 'ns-a/a', namespace: 'ns-a', labels: { app: 'a' }, ports: [] };
const b: Pod = { id: 'ns-b/b', namespace: 'ns-b', labels: { app: 'b', tier: 'x' }, ports: [{ port: 80, protocol: 'TCP', name: 'http' }] };
const policy = (namespace: string, spec: NetworkPolicy['spec']): NetworkPolicy => ({
  metadata: { name: 'p', namespace },
  spec,
});
const world = (policies: NetworkPolicy[]): Cluster => ({ namespaces: { 'ns-a': {}, 'ns-b': { team: 'b' } }, pods: [a, b], policies });

describe('network reachability', () => {
  it('allows everything without policies', () => {
    expect(canConnect(world([]), a, b, 80)).toBe(true);
  });

  it('needs both egress and ingress to allow', () => {
    const ingressOnly = policy('ns-b', {
      podSelector: { matchLabels: { app: 'b' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ns-a' } } }], ports: [{ port: 'http' }] }],
    });
    const denyEgress = policy('ns-a', { podSelector: {}, policyTypes: ['Egress'] });
    expect(canConnect(world([ingressOnly]), a, b, 80)).toBe(true);
    expect(canConnect(world([ingressOnly]), a, b, 81)).toBe(false);
    expect(canConnect(world([ingressOnly, denyEgress]), a, b, 80)).toBe(false);
  });

  it('treats a podSelector peer without namespaceSelector as the policy namespace only', () => {
    const samePodLabels = policy('ns-b', {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }] }],
    });
    expect(canConnect(world([samePodLabels]), a, b, 80)).toBe(false);
  });

  it('matches both selectors of a peer and UDP separately from TCP', () => {
    const p = policy('ns-b', {
      podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['x'] }] },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ns-a' } }, podSelector: { matchLabels: { app: 'a' } } }],
          ports: [{ protocol: 'UDP', port: 80 }],
        },
      ],
    });
    expect(canConnect(world([p]), a, b, 80, 'TCP')).toBe(false);
    expect(canConnect(world([p]), a, b, 80, 'UDP')).toBe(true);
    expect(canConnect(world([p]), { ...a, labels: { app: 'other' } }, b, 80, 'UDP')).toBe(false);
  });

  it('evaluates matchExpressions operators', () => {
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, { tier: 'x' })).toBe(true);
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, { tier: 'x' })).toBe(false);
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['y'] }] }, { tier: 'x' })).toBe(true);
  });
});
