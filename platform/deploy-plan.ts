// The deploy plan for clusters without Argo CD: the same waves as the Argo CD Applications,
// applied with kubectl, each one ready before the next begins.
import type { Values } from './values';
import { externalSecretName, renderedDir, syncedSecrets, tiers, waves, type Tier } from './layout';

export type Step =
  | { kind: 'apply'; paths: string[] }
  | { kind: 'delete'; namespace: string; resource: string; why: string }
  | { kind: 'wait'; namespace: string; resources: string[]; condition: string; timeoutSeconds: number }
  | { kind: 'rollout'; namespace: string; resource: string; timeoutSeconds: number }
  | { kind: 'job'; namespace: string; name: string; timeoutSeconds: number };

export interface Phase {
  title: string;
  steps: Step[];
}

const secretsTimeout = 120; // ESO's first sync is one AWS call; two minutes means IAM or the store is wrong
const rolloutTimeout = 300; // image pull + probes on a cold node

/** `files`: the rendered files of the environment (repo-relative paths). */
export function deployPlan(values: Values, files: string[]): Phase[] {
  const dir = renderedDir(values.environment);
  const inDir = (d: string) => files.filter((f) => f.startsWith(`${dir}/${d}/`)).sort();
  // A whole folder: kubectl applies its files in name order (namespace first, workloads last).
  const folder = (d: string): Step => {
    if (inDir(d).length === 0) throw new Error(`nothing rendered under ${dir}/${d}/; run \`npm run render\``);
    return { kind: 'apply', paths: [`${dir}/${d}/`] };
  };
  const base = (f: string) => f.slice(f.lastIndexOf('/') + 1);
  const beforeWorkloads = (f: string) => /^(00-namespace|10-networkpolicy-.*|20-secret-sync)\.yaml$/.test(base(f));

  const secretsReady = (tier: Tier): Step => ({
    kind: 'wait',
    namespace: values.namespaces[tier],
    resources: syncedSecrets(values)
      .filter((s) => s.tier === tier)
      .map((s) => `externalsecret/${externalSecretName(values, s)}`),
    condition: 'Ready',
    timeoutSeconds: secretsTimeout,
  });

  const db = values.database;
  const phases: Phase[] = [
    {
      title: 'namespaces, network policies and secret sync (all tiers, so ESO starts early)',
      steps: [{ kind: 'apply', paths: tiers.flatMap((t) => inDir(t).filter(beforeWorkloads)) }],
    },
  ];
  for (const wave of waves) {
    const steps: Step[] = [];
    if (wave.name === 'database') {
      steps.push(
        secretsReady('database'),
        folder('database'),
        { kind: 'rollout', namespace: values.namespaces.database, resource: `statefulset/${db.statefulSetName}`, timeoutSeconds: rolloutTimeout },
      );
    }
    if (wave.name === 'backend') {
      steps.push(
        {
          kind: 'delete',
          namespace: values.namespaces.database,
          resource: `job/${db.migration.jobName}`,
          why: "a Job's pod template cannot change; each deploy runs the migration afresh",
        },
        folder('migrate'),
        { kind: 'job', namespace: values.namespaces.database, name: db.migration.jobName, timeoutSeconds: db.migration.activeDeadlineSeconds + 60 },
        secretsReady('backend'),
        folder('backend'),
        { kind: 'wait', namespace: values.namespaces.backend, resources: [`ksvc/${values.api.serviceName}`], condition: 'Ready', timeoutSeconds: rolloutTimeout },
      );
    }
    if (wave.name === 'frontend') {
      steps.push(
        secretsReady('frontend'),
        folder('frontend'),
        { kind: 'rollout', namespace: values.namespaces.frontend, resource: `deployment/${values.web.deploymentName}`, timeoutSeconds: rolloutTimeout },
      );
    }
    phases.push({ title: `wave ${wave.wave}: ${wave.name}`, steps });
  }
  return phases;
}

/** The kubectl arguments for a step (a Job wait is a poll in the deploy script; shown as its closest kubectl). */
export function kubectlArgs(step: Step): string[] {
  switch (step.kind) {
    case 'apply':
      return ['apply', ...step.paths.flatMap((p) => ['-f', p])];
    case 'delete':
      return ['-n', step.namespace, 'delete', step.resource, '--ignore-not-found', '--wait=true'];
    case 'wait':
      return ['-n', step.namespace, 'wait', `--for=condition=${step.condition}`, ...step.resources, `--timeout=${step.timeoutSeconds}s`];
    case 'rollout':
      return ['-n', step.namespace, 'rollout', 'status', step.resource, `--timeout=${step.timeoutSeconds}s`];
    case 'job':
      return ['-n', step.namespace, 'wait', '--for=condition=Complete', `job/${step.name}`, `--timeout=${step.timeoutSeconds}s`];
  }
}

/** The plan as text: what `npm run deploy -- --dry-run` prints. */
export function formatPlan(env: string, phases: Phase[], context?: string): string {
  const kubectl = context ? `kubectl --context ${context}` : 'kubectl';
  const lines = [`deploy plan for ${env}:`];
  phases.forEach((phase, i) => {
    lines.push('', `${i + 1}. ${phase.title}`);
    for (const step of phase.steps) {
      const note =
        step.kind === 'delete' ? `   # ${step.why}` : step.kind === 'job' ? '   # stops early if the Job reports Failed' : '';
      const joined = kubectlArgs(step).join(' ');
      const args = step.kind === 'apply' && step.paths.length > 1 ? joined.replaceAll(' -f ', ' \\\n       -f ') : joined;
      lines.push(`   ${kubectl} ${args}${note}`);
    }
  });
  return lines.join('\n') + '\n';
}
