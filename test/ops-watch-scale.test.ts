// `watch:scale` as a real process against a local fake Kubernetes API serving recorded objects.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScaleSnapshot } from '../scripts/ops/snapshot';
import { fixtureLogs, loadScenario } from './fixtures/k8s/index';
import { type FakeKubeApi, runCommand, startFakeKubeApi, writeKubeconfig } from './support/fake-kube-api';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const WATCH = 'scripts/watch-autoscaling.ts';
let api: FakeKubeApi;
const scratch = mkdtempSync(join(tmpdir(), 'ops-watch-'));

beforeAll(async () => {
  api = await startFakeKubeApi({ objects: loadScenario('healthy'), logs: fixtureLogs() });
});
afterAll(async () => {
  await api?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const watch = (args: string[], options: Parameters<typeof runCommand>[2] = {}) =>
  runCommand(WATCH, ['--env', 'prod', ...args], { ...options, env: { KUBECONFIG: api.kubeconfig, ...options.env } });

describe('watch:scale --once --json', () => {
  it("splits each pod start into its phases, the first request answered from the pod's log", async () => {
    api.setObjects(loadScenario('slow-start'));
    const { code, stdout, stderr } = await watch(['--once', '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const snap = JSON.parse(stdout) as ScaleSnapshot;
    const slow = snap.podStarts.find((p) => p.pod.endsWith('-m3n8r'))!;
    expect(slow).toMatchObject({ scheduledAfter: 0, initializedAfter: 0, containersReadyAfter: 2, readyAfter: 0, firstRequestAfter: 7.104, total: 2, answeredAfter: 9.104 });
    expect(snap.unreadable).toEqual([]);
    expect(api.requests).toContain('GET /api/v1/namespaces/backend/pods/tasks-api-00002-deployment-6d9f8b7c5d-m3n8r/log?container=api&limitBytes=65536');
  });

  it('prints one snapshot of the serving revisions and exits 0', async () => {
    api.setObjects(loadScenario('healthy'));
    const { code, stdout, stderr } = await watch(['--once', '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const snap = JSON.parse(stdout) as ScaleSnapshot;
    expect(snap.context).toBe('fixtures');
    expect(snap.namespace).toBe('backend');
    expect(snap.service).toMatchObject({ name: 'tasks-api', ready: 'True', latestReadyRevision: 'tasks-api-00002' });
    expect(snap.revisions.map((r) => `${r.name} ${r.traffic}% ${r.phase} ${r.mode}`)).toEqual([
      'tasks-api-00002 100% steady Serve',
      'tasks-api-00001 0% retired Proxy',
    ]);
    expect(snap.podStarts.map((p) => p.total)).toEqual([5, 2]);
    // Built-in kinds come back from client-node with Date timestamps; the snapshot still has ISO strings.
    expect(snap.podStarts[0]!.readyAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(api.requests).toContain('GET /apis/autoscaling.internal.knative.dev/v1alpha1/namespaces/backend/podautoscalers?labelSelector=serving.knative.dev%2Fservice%3Dtasks-api');
  });

  it('shows a burst as bursting with the activator in the path', async () => {
    api.setObjects(loadScenario('burst'));
    const { code, stdout } = await watch(['--once', '--json']);
    expect(code).toBe(0);
    const snap = JSON.parse(stdout) as ScaleSnapshot;
    expect(snap.revisions[0]).toMatchObject({ phase: 'bursting', mode: 'Proxy', pods: { desired: 5, actual: 3, requested: 5, ready: 3, pending: 2 } });
  });

  it('shows a failed revision with its reason', async () => {
    api.setObjects(loadScenario('revision-failed'));
    const { code, stdout } = await watch(['--once', '--json']);
    expect(code).toBe(0);
    const snap = JSON.parse(stdout) as ScaleSnapshot;
    expect(snap.service.ready).toBe('False');
    expect(snap.revisions[0]).toMatchObject({ name: 'tasks-api-00003', phase: 'failed', reason: expect.stringContaining('ExitCode1') });
  });

  it('renders the terminal view with --once', async () => {
    api.setObjects(loadScenario('scaled-to-zero'));
    const { code, stdout } = await watch(['--once']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/tasks-api-00002 +100% +at zero +0 +0 +0 +0 +0 +Proxy +32/);
    expect(stdout).toContain('no pods');
  });

  it('prints every line in full when its output is piped, whatever COLUMNS says', async () => {
    api.setObjects(loadScenario('burst'));
    const burst = await watch(['--once'], { env: { COLUMNS: '60' } });
    expect(burst.code).toBe(0);
    expect(burst.stdout).toContain('  tasks-api-00002: activator back in the path while pods serve: load outgrew the spare capacity (autoscaler panic likely)\n');
    api.setObjects(loadScenario('slow-start'));
    const slow = await watch(['--once']);
    expect(slow.code).toBe(0);
    expect(slow.stdout).toContain('  ▲ tasks-api-00002-deployment-6d9f8b7c5d-m3n8r: first request took 7.1s against 0.4s (median of 2 other starts)\n');
    expect(slow.stdout).toMatch(/tasks-api-00002-deployment-6d9f8b7c5d-m3n8r +0\.0s +0\.0s +2\.0s +0\.0s +▲ 7\.1s +9\.1s +\d+/);
    expect(burst.stdout + slow.stdout).not.toContain('…');
  });
});

describe('watch:scale errors', () => {
  it('says there is no such service (exit 1)', async () => {
    api.setObjects(loadScenario('no-service'));
    const { code, stdout, stderr } = await watch(['--once', '--json']);
    expect(code).toBe(1);
    expect(stderr).toContain('no Knative Service "tasks-api" in namespace "backend"');
    expect(JSON.parse(stdout)).toEqual({ error: { reason: 'not-found', message: expect.stringContaining('kubectl get ksvc -n backend') } });
  });

  it('names the missing permission on a 403 (exit 4)', async () => {
    const forbidden = await startFakeKubeApi({ objects: loadScenario('healthy'), forbidden: [{ kind: 'Revision', namespace: 'backend' }] });
    try {
      const { code, stderr } = await runCommand(WATCH, ['--env', 'prod', '--once', '--json'], { env: { KUBECONFIG: forbidden.kubeconfig } });
      expect(code).toBe(4);
      expect(stderr).toContain('no permission to list revisions.serving.knative.dev in namespace backend (403)');
      expect(stderr).toContain('cannot list resource "revisions"');
      expect(stderr).toContain('Check with `kubectl auth can-i list revisions.serving.knative.dev -n backend`.');
    } finally {
      await forbidden.close();
    }
  });

  it("shows a partial view when Knative's internal kinds are not readable (exit 0)", async () => {
    const limited = await startFakeKubeApi({ objects: loadScenario('healthy'), forbidden: [{ kind: 'PodAutoscaler' }, { kind: 'ServerlessService' }] });
    try {
      const [json, text] = await Promise.all([
        runCommand(WATCH, ['--env', 'prod', '--once', '--json'], { env: { KUBECONFIG: limited.kubeconfig } }),
        runCommand(WATCH, ['--env', 'prod', '--once'], { env: { KUBECONFIG: limited.kubeconfig, COLUMNS: '200' } }),
      ]);
      expect(json.code).toBe(0);
      const snap = JSON.parse(json.stdout) as ScaleSnapshot;
      expect(snap.unreadable).toEqual(['podautoscalers.autoscaling.internal.knative.dev', 'serverlessservices.networking.internal.knative.dev']);
      expect(snap.revisions[0]!.pods).toMatchObject({ desired: 2, actual: 2 });
      expect(text.stdout).toContain('! no permission to list podautoscalers.autoscaling.internal.knative.dev, serverlessservices.networking.internal.knative.dev: partial view');
    } finally {
      await limited.close();
    }
  });

  it('reports an unreachable cluster (exit 3)', async () => {
    const port = await closedPort();
    const kubeconfig = writeKubeconfig(mkdtempSync(join(scratch, 'closed-')), { server: `http://127.0.0.1:${port}`, token: 't' });
    const { code, stderr } = await runCommand(WATCH, ['--env', 'prod', '--once'], { env: { KUBECONFIG: kubeconfig } });
    expect(code).toBe(3);
    expect(stderr).toContain(`cannot reach the cluster at http://127.0.0.1:${port} (ECONNREFUSED)`);
  });

  it('reports missing kubeconfig (exit 3) and rejected credentials (exit 3)', async () => {
    const none = await runCommand(WATCH, ['--env', 'prod', '--once']);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('no cluster configured');
    const kubeconfig = writeKubeconfig(mkdtempSync(join(scratch, 'wrong-')), { server: api.url, token: 'wrong' });
    const rejected = await runCommand(WATCH, ['--env', 'prod', '--once'], { env: { KUBECONFIG: kubeconfig } });
    expect(rejected.code).toBe(3);
    expect(rejected.stderr).toContain('rejected the credentials');
  });

  it('has --help and rejects bad usage (exit 2)', async () => {
    const [help, unknownEnv, badFlag] = await Promise.all([
      runCommand(WATCH, ['--help']),
      runCommand(WATCH, ['--env', 'staging', '--once']),
      runCommand(WATCH, ['--env', 'prod', '--bogus']),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: npm run watch:scale -- --env <env>');
    expect(unknownEnv.code).toBe(2);
    expect(unknownEnv.stderr).toContain('unknown environment "staging"');
    expect(badFlag.code).toBe(2);
  });
});

describe('watch:scale live', () => {
  it('reports scale events and cold starts as the service wakes from zero', async () => {
    api.setObjects(loadScenario('scaled-to-zero'));
    // Each printed line is one refresh; change the cluster right after it, before the next one.
    const next = ['cold-start', 'healthy'] as const;
    const { code, stdout } = await watch(['--json', '--interval', '0.4', '--frames', '3'], {
      onLine: (_line, i) => {
        if (next[i]) api.setObjects(loadScenario(next[i]));
      },
    });
    expect(code).toBe(0);
    const frames = stdout.trim().split('\n').map((l) => JSON.parse(l) as { snapshot: ScaleSnapshot; events: { revision: string; kind: string; text: string }[] });
    expect(frames).toHaveLength(3);
    expect(frames[0]!.events).toEqual([]);
    expect(frames[1]!.snapshot.revisions[0]!.phase).toBe('waking');
    expect(frames[1]!.events.map((e) => e.text)).toContain('autoscaler wants 0 → 1 pods (waking from zero)');
    const texts = frames[2]!.events.map((e) => e.text);
    expect(texts).toContain('ready pods 0 → 2');
    expect(texts).toContain('Proxy → Serve (pods serve directly)');
    expect(texts).toContain('pod tasks-api-00002-deployment-6d9f8b7c5d-q7w4z ready 5.0s after creation (scheduled 0.0s, initialized 0.0s, containers ready 5.0s, ready 0.0s)');
  });
});

describe('watch:scale live, through a hiccup', () => {
  it('reports a failed refresh and carries on with the next one', async () => {
    api.setObjects(loadScenario('healthy'));
    const next = ['no-service', 'healthy'] as const;
    const { code, stdout } = await watch(['--json', '--interval', '0.4', '--frames', '3'], {
      onLine: (_line, i) => {
        if (next[i]) api.setObjects(loadScenario(next[i]));
      },
    });
    expect(code).toBe(0);
    const [first, failed, recovered] = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(first.snapshot.service.name).toBe('tasks-api');
    expect(failed).toEqual({ error: { message: expect.stringContaining('no Knative Service "tasks-api"') } });
    expect(recovered.snapshot.revisions).toHaveLength(2);
    expect(recovered.events).toEqual([]); // same state as before the hiccup: nothing happened
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
