// The connection troubleshooting tree, automated. It walks the install in deploy order
// (database → backend → frontend) the way the old checklist did by hand: namespaces, services and
// their endpoints, the DNS names the ConfigMaps point at, the ESO-synced Secrets, the database
// StatefulSet, the Knative Service, the NetworkPolicies. Every verdict carries the command to run
// next and the likely cause, so a red line is a starting point rather than a riddle.
// This file only runs the groups; each group of checks is a file in doctor/.
import type { Kube } from '../kube';
import { type OpsTargets, type Tier, tiers } from '../targets';
import { guard, type Check, type CheckContext, type CheckGroup, type Verdict } from './check';
import { namespaceChecks } from './namespaces';
import { databaseChecks } from './database';
import { backupChecks } from './backups';
import { secretChecks } from './secrets';
import { apiChecks } from './api';
import { webChecks } from './web';
import { networkPolicyChecks } from './network';

export type { Check, Verdict } from './check';

export interface DoctorReport {
  env: string;
  context: string;
  server: string;
  checkedAt: string;
  ok: boolean;
  counts: Record<Verdict, number>;
  checks: Check[];
}

export interface DoctorOptions {
  now?: number;
}

/** The groups after the namespaces, in deploy order: wave 0 (the database, its backups), the secrets of every tier, wave 1, wave 2, the policies. */
const groups: CheckGroup[] = [databaseChecks, backupChecks, secretChecks, apiChecks, webChecks, networkPolicyChecks];

/** Run every check. Never throws for cluster state; only when the cluster cannot be reached at all. */
export async function runDoctor(kube: Kube, t: OpsTargets, options: DoctorOptions = {}): Promise<DoctorReport> {
  const now = options.now ?? Date.now();
  const version = await kube.version(); // unreachable / no config: the caller reports it
  const checks: Check[] = [
    {
      id: 'cluster',
      group: 'cluster',
      title: 'cluster reachable',
      verdict: 'pass',
      detail: `Kubernetes ${version} at ${kube.server} (context ${kube.context})`,
    },
  ];

  // A tier whose namespace is missing has its checks skipped (unknown), not failed one by one.
  const present = new Set<Tier>();
  const context: CheckContext = {
    kube,
    t,
    now,
    earlier: checks,
    inTier: async (tier, base, run) =>
      present.has(tier) ? guard(base, run) : { ...base, verdict: 'unknown', detail: `not checked: namespace ${t.namespaces[tier]} is missing` },
  };
  checks.push(...(await namespaceChecks(context)));
  for (const tier of tiers) {
    if (checks.find((c) => c.id === `namespace/${t.namespaces[tier]}`)?.verdict !== 'fail') present.add(tier);
  }
  for (const group of groups) checks.push(...(await group(context)));

  const counts: Record<Verdict, number> = { pass: 0, warn: 0, fail: 0, unknown: 0 };
  for (const c of checks) counts[c.verdict]++;
  return {
    env: t.env,
    context: kube.context,
    server: kube.server,
    checkedAt: new Date(now).toISOString(),
    ok: counts.fail === 0 && counts.unknown === 0,
    counts,
    checks,
  };
}
