import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { kubeconfigSource, kubectlResource, loadKubeConfig, toKubeError } from './kube';
import { KubeError } from './kube-error';

const dir = mkdtempSync(join(tmpdir(), 'kube-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kubeconfig = (contexts: string[]) => {
  const file = join(dir, `config-${contexts.join('-')}`);
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{ name: c, cluster: { server: "https://k8s.example:6443" } }]',
      'users: [{ name: u, user: { token: t } }]',
      `contexts: [${contexts.map((n) => `{ name: ${n}, context: { cluster: c, user: u } }`).join(', ')}]`,
      `current-context: ${contexts[0]}`,
    ].join('\n'),
  );
  return file;
};

describe('loadKubeConfig', () => {
  it('refuses to guess a cluster when there is no kubeconfig at all', () => {
    const env = { HOME: dir };
    expect(kubeconfigSource(env)).toBeUndefined();
    expect(() => loadKubeConfig({ env })).toThrow(/no cluster configured/);
  });

  it('uses the current context, or the one asked for, and names the known ones when it is wrong', () => {
    const file = kubeconfig(['prod', 'dev']);
    process.env.KUBECONFIG = file;
    try {
      expect(loadKubeConfig({ env: { KUBECONFIG: file } }).getCurrentContext()).toBe('prod');
      expect(loadKubeConfig({ env: { KUBECONFIG: file }, context: 'dev' }).getCurrentContext()).toBe('dev');
      expect(() => loadKubeConfig({ env: { KUBECONFIG: file }, context: 'staging' })).toThrow('no context "staging" in the kubeconfig (known: prod, dev)');
    } finally {
      delete process.env.KUBECONFIG;
    }
  });
});

describe('toKubeError', () => {
  const request = { text: 'list pods in namespace backend', canI: 'kubectl auth can-i list pods -n backend' };
  const status = (code: number, message: string) => JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code });

  it('turns API answers into sentences with what to do', () => {
    const forbidden = toKubeError(new ApiException(403, 'Unknown API Status Code!', status(403, 'pods is forbidden'), {}), request, 'https://k8s', 'prod');
    expect(forbidden).toMatchObject({ reason: 'forbidden', status: 403 });
    expect(forbidden.message).toBe('no permission to list pods in namespace backend (403): pods is forbidden. Check with `kubectl auth can-i list pods -n backend`.');
    expect(toKubeError(new ApiException(401, 'Unauthorized', undefined, {}), request, 'https://k8s', 'prod').message).toBe(
      'the cluster at https://k8s rejected the credentials of context "prod" (401); log in again',
    );
    expect(toKubeError(new ApiException(404, 'x', status(404, 'pods "p" not found'), {}), request, 'https://k8s')).toMatchObject({ reason: 'not-found' });
    expect(toKubeError(new ApiException(500, 'x', 'etcd timeout', {}), request, 'https://k8s').message).toBe(
      'the API server answered 500 to "list pods in namespace backend": etcd timeout',
    );
  });

  it('recognises network failures, also when wrapped', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(toKubeError(refused, request, 'https://k8s', 'prod')).toMatchObject({ reason: 'unreachable' });
    const wrapped = new Error('request failed', { cause: Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' }) });
    expect(toKubeError(wrapped, request, 'https://k8s', 'prod').message).toBe(
      'cannot reach the cluster at https://k8s (ENOTFOUND); is the cluster up and the context "prod" right?',
    );
    const same = new KubeError('forbidden', 'already explained');
    expect(toKubeError(same, request, 'https://k8s')).toBe(same);
  });
});

describe('kubectlResource', () => {
  it('qualifies custom resources with their group', () => {
    expect(kubectlResource('Pod')).toBe('pods');
    expect(kubectlResource('KnativeService')).toBe('services.serving.knative.dev');
  });
});
