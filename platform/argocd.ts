// Argo CD app-of-apps per environment: a root Application that syncs one child Application per
// wave; the children's sync-wave annotations give the order database → backend → frontend.
import { Application } from '@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application';
import type { Values } from './values';
import { argocdDir, renderedDir, waves } from './layout';
import { labels, type Rendered } from './templates/common';

const inCluster = 'https://kubernetes.default.svc';

function appName(values: Values, part: string): string {
  return `${values.project}-${values.environment}-${part}`;
}

/** Files under platform/argocd/<env>/, relative to that folder. */
export function applications(values: Values): [string, Rendered[]][] {
  const { argocd } = values;
  const env = values.environment;
  const children = waves.map((w): [string, Rendered[]] => [
    `apps/${w.name}.yaml`,
    [
      {
        object: new Application({
          metadata: {
            name: appName(values, w.name),
            namespace: argocd.namespace,
            labels: labels(values, appName(values, w.name), 'argocd'),
            annotations: { 'argocd.argoproj.io/sync-wave': String(w.wave) },
            // Deleting the Application deletes what it deployed, except the database namespace and its volume.
            finalizers: ['resources-finalizer.argocd.argoproj.io'],
          },
          spec: {
            project: argocd.project,
            source: {
              repoURL: argocd.repoURL,
              targetRevision: argocd.targetRevision,
              path: renderedDir(env),
              directory: { recurse: true, include: `{${w.dirs.map((d) => `${d}/*.yaml`).join(',')}}` },
            },
            destination: { server: inCluster, namespace: values.namespaces[w.name] },
            syncPolicy: {
              automated: { prune: true, selfHeal: true },
              retry: { limit: 5, backoff: { duration: '10s', factor: 2, maxDuration: '3m' } },
            },
          },
        }),
      },
    ],
  ]);
  const root: [string, Rendered[]] = [
    'root.yaml',
    [
      {
        object: new Application({
          metadata: {
            name: appName(values, 'root'),
            namespace: argocd.namespace,
            labels: labels(values, appName(values, 'root'), 'argocd'),
          },
          spec: {
            project: argocd.project,
            source: {
              repoURL: argocd.repoURL,
              targetRevision: argocd.targetRevision,
              path: `${argocdDir(env)}/apps`,
            },
            destination: { server: inCluster, namespace: argocd.namespace },
            syncPolicy: { automated: { prune: true, selfHeal: true } },
          },
        }),
      },
    ],
  ];
  return [root, ...children];
}
