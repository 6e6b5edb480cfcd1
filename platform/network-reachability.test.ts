import { describe, expect, it } from 'vitest';
import { canConnect, inCidr, selects, type Cluster, type NetworkPolicy, type Pod } from './network-reachability';

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

  it('matches ipBlock peers by address, with their except ranges', () => {
    expect(inCidr('10.1.2.3', '10.0.0.0/8')).toBe(true);
    expect(inCidr('11.0.0.1', '10.0.0.0/8')).toBe(false);
    expect(inCidr('52.219.170.1', '0.0.0.0/0')).toBe(true);
    const egress = policy('ns-a', {
      podSelector: { matchLabels: { app: 'a' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }], ports: [{ protocol: 'TCP', port: 443 }] }],
    });
    const s3 = { id: 'external/s3', namespace: 'external', labels: {}, ports: [{ port: 443, protocol: 'TCP' as const }], ip: '52.219.170.1' };
    const inside = { ...b, ip: '10.0.3.4' };
    expect(canConnect(world([egress]), a, s3, 443)).toBe(true);
    expect(canConnect(world([egress]), a, s3, 80)).toBe(false);
    expect(canConnect(world([egress]), a, inside, 443)).toBe(false);
    // Without an address, only "everything" can be decided.
    expect(() => canConnect(world([egress]), a, b, 443)).toThrow(/ipBlock 0\.0\.0\.0\/0 cannot be evaluated against ns-b\/b, which has no ip/);
  });
});
