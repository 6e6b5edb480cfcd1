// The timing rule of secret rotation, checked by `npm run render` and `npm run secrets:bootstrap`.
import type { Values } from './values';

/** Seconds in a values duration like `30s`, `1m` or `2h` (the schema allows only these forms). */
export function durationSeconds(duration: string): number {
  const match = /^([0-9]+)(s|m|h)$/.exec(duration);
  if (!match) throw new Error(`not a duration: ${duration}`);
  return Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] as 's' | 'm' | 'h'];
}

/** How long after a rotation until every pod, and every request in flight, holds the new version. */
export function propagationTerms(values: Values): { name: string; seconds: number }[] {
  return [
    { name: 'ESO refreshInterval (secrets.refreshInterval)', seconds: durationSeconds(values.secrets.refreshInterval) },
    { name: 'kubelet sync delay (secrets.kubeletSyncDelay)', seconds: durationSeconds(values.secrets.kubeletSyncDelay) },
    { name: 'nginx pick-up (web.internalTokenWatchSeconds)', seconds: values.web.internalTokenWatchSeconds },
    // Requests sent with the old token or pool before the pick-up finish within the Knative timeout.
    { name: 'longest request (api.timeoutSeconds)', seconds: values.api.timeoutSeconds },
  ];
}

/**
 * The rule: a rotation must not start before every consumer has the previous one, because the API
 * accepts only the current and the previous token (and the database keeps only the current and the
 * previous user's password). So the rotation interval must exceed the propagation time.
 * Throws an Error that names the environment, the figures and what to change.
 */
export function checkRotationTiming(values: Values, rotationDays = values.secrets.rotationDays): void {
  const terms = propagationTerms(values);
  const total = terms.reduce((sum, t) => sum + t.seconds, 0);
  const interval = rotationDays * 86_400;
  if (interval > total) return;
  throw new Error(
    `rotation timing rule broken for environment "${values.environment}": the rotation interval (${rotationDays} days = ${interval} s) ` +
      `must exceed ESO refresh + kubelet sync + nginx pick-up + longest request = ${terms.map((t) => `${t.seconds} s ${t.name}`).join(' + ')} = ${total} s. ` +
      'Raise secrets.rotationDays or lower those values (secrets/README.md, "The timing rule").',
  );
}
