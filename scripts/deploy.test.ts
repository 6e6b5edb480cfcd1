import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { environments } from '../platform/values';
import { main, planFor } from './deploy';
import { formatPlan } from '../platform/deploy-plan';

const root = join(import.meta.dirname, '..');
const tsx = join(root, 'node_modules/tsx/dist/cli.mjs');

describe.each(environments)('deploy plan (%s)', (env) => {
  const plan = formatPlan(env, planFor(env));
  const lines = plan.split('\n');
  const at = (pattern: RegExp) => {
    const i = lines.findIndex((l) => pattern.test(l));
    expect(i, `plan line matching ${pattern}`).toBeGreaterThan(-1);
    return i;
  };
  const ns = env === 'dev' ? 'tasks-dev-' : '';

  it('syncs namespaces and secrets first, then the waves in order with their waits', () => {
    const order = [
      /^1\. namespaces, network policies and secret sync/,
      new RegExp(`-f platform/rendered/${env}/database/00-namespace\\.yaml`),
      new RegExp(`-f platform/rendered/${env}/frontend/20-secret-sync\\.yaml`),
      /^2\. wave 0: database$/,
      new RegExp(`-n ${ns}database wait --for=condition=Ready externalsecret/aws-sm-postgres-admin externalsecret/aws-sm-tasks-app-credentials`),
      new RegExp(`apply -f platform/rendered/${env}/database/$`),
      new RegExp(`-n ${ns}database rollout status statefulset/postgres`),
      /^3\. wave 1: backend$/,
      new RegExp(`-n ${ns}database delete job/tasks-api-migrate --ignore-not-found`),
      new RegExp(`apply -f platform/rendered/${env}/migrate/$`),
      new RegExp(`-n ${ns}database wait --for=condition=Complete job/tasks-api-migrate`),
      new RegExp(`-n ${ns}backend wait --for=condition=Ready externalsecret/aws-sm-database-credentials externalsecret/aws-sm-internal-token`),
      new RegExp(`apply -f platform/rendered/${env}/backend/$`),
      new RegExp(`-n ${ns}backend wait --for=condition=Ready ksvc/tasks-api`),
      /^4\. wave 2: frontend$/,
      new RegExp(`-n ${ns}frontend wait --for=condition=Ready externalsecret/aws-sm-internal-token`),
      new RegExp(`apply -f platform/rendered/${env}/frontend/$`),
      new RegExp(`-n ${ns}frontend rollout status deployment/web`),
    ];
    const positions = order.map(at);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  it('applies no workload before its wave', () => {
    const first = plan.slice(0, plan.indexOf('2. wave 0'));
    expect(first).not.toMatch(/30-|migrate\//);
  });
});

describe('deploy CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'deploy-'));
  const savedPath = process.env.PATH;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    process.env.PATH = savedPath;
    vi.restoreAllMocks();
  });

  const savedKubeconfig = process.env.KUBECONFIG;
  afterEach(() => {
    if (savedKubeconfig === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = savedKubeconfig;
  });

  // A kubeconfig that names a cluster: deploy checks one is configured; the stand-in kubectl answers.
  writeFileSync(
    join(dir, 'kubeconfig'),
    'apiVersion: v1\nkind: Config\nclusters: [{ name: c, cluster: { server: "https://127.0.0.1:1" } }]\nusers: [{ name: u, user: { token: t } }]\ncontexts: [{ name: x, context: { cluster: c, user: u } }]\ncurrent-context: x\n',
  );

  /**
   * Run main() in-process with a PATH of our choosing (no real kubectl anywhere in these tests)
   * and the kubeconfig above (only checked to name a cluster), unless `kubeconfig` is null.
   */
  async function deployIn(args: string[], path: string, kubeconfig: string | null = join(dir, 'kubeconfig')) {
    process.env.PATH = path;
    if (kubeconfig === null) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = kubeconfig;
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
    vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
    const status = await main(args);
    return { status, stdout: out.join('\n'), stderr: err.join('\n') };
  }

  it('prints the plan with --dry-run, without kubectl, from the command line', () => {
    const res = spawnSync(process.execPath, [tsx, 'scripts/deploy.ts', '--env', 'prod', '--dry-run'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, PATH: dir },
      timeout: 30_000,
    });
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.stdout).toBe(formatPlan('prod', planFor('prod')));
  });

  it('names the environments when given an unknown one', async () => {
    const res = await deployIn(['--env', 'staging', '--dry-run'], dir);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('unknown environment "staging": expected one of dev, prod');
  });

  it('asks for --env', async () => {
    const res = await deployIn([], dir);
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/--env is required\nusage: npm run deploy -- --env <dev\|prod>/);
  });

  // Before, kubectl fell back to localhost:8080 and deploy reported "connection refused".
  it('says no cluster is configured, and what to do, before calling kubectl', async () => {
    const res = await deployIn(['--env', 'dev'], dir, null);
    expect(res.status).toBe(3);
    expect(res.stderr).toBe(
      'deploy: no cluster configured: no KUBECONFIG, no ~/.kube/config and not running in a pod. ' +
        'Point KUBECONFIG at your cluster (e.g. `aws eks update-kubeconfig --name <cluster>`). Or run with --dry-run to see the plan.',
    );
  });

  it('says so plainly when kubectl is missing', async () => {
    const res = await deployIn(['--env', 'dev'], dir);
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('kubectl not found on PATH');
  });

  it('says so plainly when no cluster answers', async () => {
    // A stand-in kubectl: the client works, the API server does not (what kubectl prints then).
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, 'kubectl'),
      '#!/bin/sh\nif [ "$1 $2" = "version --client" ]; then echo "Client Version: v1.34.0"; exit 0; fi\n' +
        'echo "The connection to the server localhost:8080 was refused - did you specify the right host or port?" >&2\nexit 1\n',
    );
    chmodSync(join(bin, 'kubectl'), 0o755);
    const res = await deployIn(['--env', 'dev'], `${bin}:/usr/bin:/bin`);
    expect(res.status).toBe(1);
    expect(res.stderr).toContain(
      'no cluster reachable with the current kubeconfig context: The connection to the server localhost:8080 was refused',
    );
  });
});
