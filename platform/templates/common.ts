// Shared pieces of every template: labels, hardened security contexts, and the Rendered shape.
import { createHash } from 'node:crypto';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { Values } from '../values';

export type ObjectMeta = NonNullable<INamespace['metadata']>;

/** A typed Kubernetes model: validates against its upstream schema and serialises itself. */
export interface Model {
  apiVersion: string;
  kind: string;
  metadata?: ObjectMeta;
  validate(): void;
  toJSON(): unknown;
}

/** One object to render, with optional comments keyed by the path of the value they explain. */
export interface Rendered {
  object: Model;
  comments?: { path: (string | number)[]; text: string }[];
}

/** Recommended labels (kubernetes.io/docs/concepts/overview/working-with-objects/common-labels). */
export function labels(values: Values, name: string, component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': values.project,
    'app.kubernetes.io/managed-by': 'platform-render',
    'app.kubernetes.io/environment': values.environment,
  };
}

/** The labels that identify a workload's pods: stable across versions, so safe in selectors. */
export function selectorLabels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name };
}

export function meta(
  values: Values,
  args: { name: string; namespace?: string; component: string; app?: string; annotations?: Record<string, string> },
): ObjectMeta {
  return {
    name: args.name,
    ...(args.namespace ? { namespace: args.namespace } : {}),
    labels: labels(values, args.app ?? args.name, args.component),
    ...(args.annotations ? { annotations: args.annotations } : {}),
  };
}

/** A workload's own ServiceAccount. None of our pods talks to the Kubernetes API: no token is mounted. */
export function workloadServiceAccount(
  values: Values,
  args: { name: string; namespace: string; component: string; app: string },
): Rendered {
  return { object: new ServiceAccount({ metadata: meta(values, args), automountServiceAccountToken: false }) };
}

/** Container settings that satisfy Pod Security "restricted" without pod-level fields. */
export function restrictedContainer(runAsUser: number): NonNullable<IContainer['securityContext']> {
  return {
    runAsNonRoot: true,
    runAsUser,
    runAsGroup: runAsUser,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function image(ref: { repository: string; tag: string }): string {
  return `${ref.repository}:${ref.tag}`;
}

/** A short content hash: put on a pod template so a ConfigMap change rolls the pods. */
export function contentHash(data: unknown): string {
  return createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 16);
}

// The Helm convention, so people recognise it.
export const configHashAnnotation = 'checksum/config';

/** A comment for the rendered YAML, when the values files give a reason for that value. */
export function commentFor(path: (string | number)[], text: string | undefined): Rendered['comments'] {
  return text ? [{ path, text }] : [];
}
