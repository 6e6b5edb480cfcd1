// How a failure to talk to the cluster is described, apart from the client (kube.ts) so that
// commands which only report errors do not load @kubernetes/client-node.

export type KubeErrorReason = 'no-config' | 'unreachable' | 'unauthorized' | 'forbidden' | 'not-found' | 'api';

/** A failure talking to the cluster, with a message meant for the person at the terminal. */
export class KubeError extends Error {
  constructor(
    readonly reason: KubeErrorReason,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'KubeError';
  }
}

/** The message of an Error, or the thing itself as text. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
