// The ops viewer Role lets `watch:scale` make every request it makes, pods/log included, and no more.
import { describe, expect, it } from 'vitest';
import type { IPolicyRule } from 'kubernetes-models/rbac.authorization.k8s.io/v1/PolicyRule';
import { fixtureLogs, loadScenario, memoryKube, recordedAt } from '../test/fixtures/k8s/index';
import { type Kube, kinds, type Kind } from '../scripts/ops/kube';
import { takeSnapshot } from '../scripts/ops/snapshot';
import { environments, loadValues } from './values';
import { manifests } from './render';

/** Every API request a snapshot makes, as [apiGroup, resource, verb]. */
async function snapshotRequests(): Promise<[string, string, string][]> {
  const inner = memoryKube(loadScenario('slow-start'), { logs: fixtureLogs() });
  const seen: [string, string, string][] = [];
  const of = (kind: Kind) => [kinds[kind].group, kinds[kind].plural] as const;
  const kube: Kube = {
    context: inner.context,
    server: inner.server,
    version: () => inner.version(),
    get: (kind, ns, name) => (seen.push([...of(kind), 'get']), inner.get(kind, ns, name)),
    list: (kind, ns, selector) => (seen.push([...of(kind), 'list']), inner.list(kind, ns, selector)),
    podLog: (ns, pod, container, limit) => (seen.push(['', 'pods/log', 'get']), inner.podLog!(ns, pod, container, limit)),
  };
  const snap = await takeSnapshot(kube, 'backend', 'tasks-api', recordedAt);
  expect(snap.unreadable).toEqual([]);
  return seen;
}

const allows = (rules: IPolicyRule[], [group, resource, verb]: [string, string, string]) =>
  rules.some((r) => r.apiGroups?.includes(group) && r.resources?.includes(resource) && r.verbs.includes(verb));

describe.each(environments)('ops viewer Role (%s)', (env) => {
  const values = loadValues(env);
  const objects = [...manifests(values).values()].flat().map((r) => r.object.toJSON() as any);
  const role = objects.find((o) => o.kind === 'Role' && o.metadata.name === 'ops-viewer');
  const binding = objects.find((o) => o.kind === 'RoleBinding' && o.metadata.name === 'ops-viewer');

  it("is namespaced to the API's namespace and bound to the ops group", () => {
    expect(role?.metadata.namespace).toBe(values.namespaces.backend);
    expect(binding).toMatchObject({
      metadata: { namespace: values.namespaces.backend },
      roleRef: { kind: 'Role', name: 'ops-viewer' },
      subjects: [{ kind: 'Group', name: values.ops.viewerGroup }],
    });
    expect(objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')).toEqual([]);
  });

  it('allows every request watch:scale makes, get pods/log among them', async () => {
    const requests = await snapshotRequests();
    expect(requests).toContainEqual(['', 'pods/log', 'get']);
    for (const r of requests) expect(allows(role.rules, r), r.join(' ')).toBe(true);
  });

  it('only reads, and never Secrets', () => {
    const rules = role.rules as IPolicyRule[];
    expect([...new Set(rules.flatMap((r) => r.verbs))].sort()).toEqual(['get', 'list']);
    expect(rules.flatMap((r) => r.resources ?? [])).not.toContain('secrets');
    expect(rules.flatMap((r) => [...(r.resources ?? []), ...(r.apiGroups ?? []), ...r.verbs])).not.toContain('*');
  });
});
