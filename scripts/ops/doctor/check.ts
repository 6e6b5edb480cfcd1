// What one doctor check is, and what every group of checks is handed. The runner is ../doctor.ts;
// each file beside this one is one group, in deploy order.
import type { Kube } from '../kube';
import { KubeError, errorText } from '../kube-error';
import type { OpsTargets, Tier } from '../targets';

export type Verdict = 'pass' | 'warn' | 'fail' | 'unknown';

export interface Check {
  /** Stable id for scripts, e.g. `secret/backend/database-credentials`. */
  id: string;
  group: 'cluster' | 'namespaces' | 'database' | 'backups' | 'secrets' | 'api' | 'web' | 'network';
  title: string;
  verdict: Verdict;
  detail: string;
  /** The command to run next to see more (or to fix it). */
  next?: string;
  /** What most likely causes a failure like this. */
  cause?: string;
}

/** What a check function finds; the group adds the id, group and title. */
export type Outcome = Omit<Check, 'id' | 'group' | 'title'>;
export type CheckBase = Pick<Check, 'id' | 'group' | 'title'>;

/** What every check group is handed. */
export interface CheckContext {
  kube: Kube;
  t: OpsTargets;
  /** The time the checks compare ages against (ms since the epoch). */
  now: number;
  /** The checks made so far, in order: a group may explain its failure by an earlier one. */
  earlier: readonly Check[];
  /** Run one check of a tier; `unknown` without running it when the tier's namespace is missing. */
  inTier(tier: Tier, base: CheckBase, run: () => Promise<Outcome>): Promise<Check>;
}

/** One group of checks (the database's, the secrets', …); groups run one after another. */
export type CheckGroup = (context: CheckContext) => Promise<Check[]>;

/** Run one check; a 403 or an API error makes it `unknown` with the reason, not a crash. */
export async function guard(base: CheckBase, run: () => Promise<Outcome>): Promise<Check> {
  try {
    return { ...base, ...(await run()) };
  } catch (err) {
    if (err instanceof KubeError && (err.reason === 'unreachable' || err.reason === 'unauthorized' || err.reason === 'no-config')) throw err;
    const forbidden = err instanceof KubeError && err.reason === 'forbidden';
    return {
      ...base,
      verdict: 'unknown',
      detail: errorText(err),
      ...(forbidden ? { cause: 'your user lacks read access here; ask for a read-only role on this namespace (get/list)' } : {}),
    };
  }
}
