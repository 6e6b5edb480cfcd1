// npm run deploy -- --env <env> [--dry-run] [--context <kube-context>]
// Applies platform/rendered/<env>/ wave by wave with kubectl and waits for each wave to be ready
// before the next: the path for clusters without Argo CD. --dry-run prints the plan and needs no cluster.
import { spawn, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { command, exitCode, finish, UsageError } from './ops/cli';
import { noClusterConfigured } from './ops/kube';
import { KubeError } from './ops/kube-error';
import { environments, isEnvironment, loadValues } from '../platform/values';
import { renderAll, renderEnvironment } from '../platform/render';
import { deployPlan, formatPlan, kubectlArgs, type Phase, type Step } from '../platform/deploy-plan';
import { staleFiles } from './render';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const usage = `usage: npm run deploy -- --env <${environments.join('|')}> [--dry-run] [--context <kube-context>]`;

/** A failure the operator can act on; printed without a stack trace. */
class DeployError extends Error {}

export function planFor(env: string): Phase[] {
  const values = loadValues(env);
  return deployPlan(values, [...renderEnvironment(values.environment).keys()]);
}

function kubectl(context: string | undefined, args: string[]): string[] {
  return context ? ['--context', context, ...args] : args;
}

/** Fail early, with the fix, when kubectl, the cluster or a prerequisite is missing. */
function preflight(context: string | undefined): void {
  // The same check as doctor and watch:scale, before kubectl can fall back to localhost:8080.
  // A KubeError: the command shell exits 3 for it, as doctor and watch:scale do.
  const none = noClusterConfigured(process.env);
  if (none) throw new KubeError('no-config', `${none} Or run with --dry-run to see the plan.`);
  const client = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (client.error) {
    throw new DeployError(
      'kubectl not found on PATH. Install it (https://kubernetes.io/docs/tasks/tools/) or run with --dry-run to see the plan.',
    );
  }
  const server = spawnSync('kubectl', kubectl(context, ['version', '--request-timeout=10s']), { encoding: 'utf8' });
  if (server.status !== 0) {
    const why = (server.stderr || server.stdout).trim().split('\n')[0] ?? '';
    throw new DeployError(
      `no cluster reachable${context ? ` for context "${context}"` : ' with the current kubeconfig context'}: ${why}\n` +
        'Point kubectl at the cluster (kubectl config use-context …, or --context) and retry.',
    );
  }
  const crds = {
    'services.serving.knative.dev': 'Knative Serving',
    'secretstores.external-secrets.io': 'External Secrets Operator',
    'externalsecrets.external-secrets.io': 'External Secrets Operator',
  };
  const missing = Object.entries(crds).filter(
    ([crd]) => spawnSync('kubectl', kubectl(context, ['get', 'crd', crd, '-o', 'name']), { encoding: 'utf8' }).status !== 0,
  );
  if (missing.length > 0) {
    const names = [...new Set(missing.map(([, what]) => what))].join(' and ');
    throw new DeployError(`the cluster lacks ${names} (missing CRDs: ${missing.map(([c]) => c).join(', ')}); see platform/README.md, Prerequisites.`);
  }
}

function runKubectl(context: string | undefined, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', kubectl(context, args), { cwd: root, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new DeployError(`kubectl ${args.join(' ')} failed (exit ${code})`))));
  });
}

/** Wait for a Job to finish; stop at once when it reports Failed, with its logs. */
async function waitForJob(context: string | undefined, step: Extract<Step, { kind: 'job' }>): Promise<void> {
  const deadline = Date.now() + step.timeoutSeconds * 1000;
  const jsonpath = '{range .status.conditions[*]}{.type}={.status}{"\\n"}{end}';
  while (Date.now() < deadline) {
    const res = spawnSync('kubectl', kubectl(context, ['-n', step.namespace, 'get', `job/${step.name}`, '-o', `jsonpath=${jsonpath}`]), {
      encoding: 'utf8',
    });
    const conditions = res.stdout.split('\n');
    if (conditions.includes('Complete=True')) return;
    if (conditions.includes('Failed=True')) {
      spawnSync('kubectl', kubectl(context, ['-n', step.namespace, 'logs', `job/${step.name}`, '--tail=50']), { stdio: 'inherit' });
      throw new DeployError(`job/${step.name} failed; its last log lines are above. The API was not rolled out.`);
    }
    await sleep(3000);
  }
  throw new DeployError(`job/${step.name} did not complete within ${step.timeoutSeconds}s`);
}

async function apply(phases: Phase[], context: string | undefined): Promise<void> {
  for (const [i, phase] of phases.entries()) {
    console.log(`\n${i + 1}. ${phase.title}`);
    for (const step of phase.steps) {
      console.log(`   kubectl ${kubectl(context, kubectlArgs(step)).join(' ')}`);
      if (step.kind === 'job') await waitForJob(context, step);
      else await runKubectl(context, kubectlArgs(step));
    }
  }
}

/** The command, callable in-process (the tests): parses `argv`, returns the exit code. */
export const main = command(
  {
    name: 'deploy',
    help: usage,
    usage,
    flags: {
      env: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      context: { type: 'string' },
    },
  },
  async (args) => {
    if (!args.env) throw new UsageError('--env is required');
    if (!isEnvironment(args.env)) throw new UsageError(`unknown environment "${args.env}": expected one of ${environments.join(', ')}`);
    const phases = planFor(args.env);
    if (args['dry-run']) {
      process.stdout.write(formatPlan(args.env, phases, args.context));
      return exitCode.ok;
    }
    const stale = staleFiles(renderAll());
    if (stale.length > 0) {
      throw new DeployError(`platform/rendered is stale (${stale.length} files); run \`npm run render\`, review and commit first.`);
    }
    preflight(args.context);
    await apply(phases, args.context);
    console.log(`\n${args.env}: every wave is ready.`);
    return exitCode.ok;
  },
);

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  finish(await main(process.argv.slice(2)));
}
