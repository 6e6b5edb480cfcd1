import { describe, expect, it } from 'vitest';
import { fixtureLogs, loadScenario, memoryKube, recordedAt, type Scenario } from '../../test/fixtures/k8s/index';
import { KubeError } from './kube-error';
import { firstRequestTime, grownPhases, phaseOf, podStart, takeSnapshot } from './snapshot';

const snapshotOf = (scenario: Scenario) => takeSnapshot(memoryKube(loadScenario(scenario)), 'backend', 'tasks-api', recordedAt);

describe('scale snapshot from recorded Knative objects', () => {
  it('shows the serving revision with its pods and the retired one at zero', async () => {
    const snap = await snapshotOf('healthy');
    expect(snap.takenAt).toBe('2026-11-26T10:00:00.000Z');
    expect(snap.service).toMatchObject({
      name: 'tasks-api',
      ready: 'True',
      url: 'http://tasks-api.backend.svc.cluster.local',
      latestReadyRevision: 'tasks-api-00002',
    });
    expect(snap.revisions.map((r) => [r.name, r.traffic, r.phase, r.mode])).toEqual([
      ['tasks-api-00002', 100, 'steady', 'Serve'],
      ['tasks-api-00001', 0, 'retired', 'Proxy'],
    ]);
    expect(snap.revisions[0]!.pods).toEqual({ desired: 2, actual: 2, requested: 2, ready: 2, pending: 0, notReady: 0, terminating: 0 });
    expect(snap.revisions[0]!.autoscaling).toMatchObject({ class: 'kpa.autoscaling.knative.dev', metric: 'concurrency', target: 32, minScale: 0, maxScale: 10 });
    expect(snap.totals).toEqual({ desired: 2, actual: 2, ready: 2, pending: 0 });
  });

  it('measures each pod start from its conditions, newest first', async () => {
    const snap = await snapshotOf('healthy');
    expect(snap.podStarts).toEqual([
      expect.objectContaining({ pod: 'tasks-api-00002-deployment-6d9f8b7c5d-q7w4z', scheduledAfter: 0, initializedAfter: 0, containersReadyAfter: 5, readyAfter: 0, total: 5 }),
      expect.objectContaining({ pod: 'tasks-api-00002-deployment-6d9f8b7c5d-x2k9p', scheduledAfter: 0, initializedAfter: 0, containersReadyAfter: 2, readyAfter: 0, total: 2 }),
    ]);
    // Without a way to read logs there is no first-request phase, and nothing is missing from the view.
    expect(snap.podStarts.map((s) => s.firstRequestAfter)).toEqual([undefined, undefined]);
    expect(snap.unreadable).toEqual([]);
  });

  it("adds the first request answered from each ready pod's log, and which phase grew", async () => {
    const kube = memoryKube(loadScenario('slow-start'), { logs: fixtureLogs() });
    const snap = await takeSnapshot(kube, 'backend', 'tasks-api', recordedAt);
    const byPod = Object.fromEntries(snap.podStarts.map((s) => [s.pod.slice(-5), s]));
    expect(byPod.m3n8r).toMatchObject({ containersReadyAfter: 2, readyAfter: 0, firstRequestAfter: 7.104, firstRequestAt: '2026-11-26T09:59:59.104Z', total: 2, answeredAfter: 9.104 });
    expect(byPod.q7w4z).toMatchObject({ firstRequestAfter: 0.488 });
    expect(byPod.x2k9p).toMatchObject({ firstRequestAfter: 0.214 });
    expect(grownPhases(snap.podStarts)).toEqual([
      { pod: 'tasks-api-00002-deployment-6d9f8b7c5d-m3n8r', phase: 'firstRequestAfter', seconds: 7.104, medianSeconds: 0.351, of: 2 },
      // The healthy install's second pod took 5 s to its containers against 2 s for the other two.
      { pod: 'tasks-api-00002-deployment-6d9f8b7c5d-q7w4z', phase: 'containersReadyAfter', seconds: 5, medianSeconds: 2, of: 2 },
    ]);
  });

  it('reads a pod log once it has the first request, and notes a 403 on pods/log as a partial view', async () => {
    const logs = fixtureLogs();
    let reads = 0;
    const kube = memoryKube(loadScenario('healthy'), { logs });
    const podLog = kube.podLog!;
    kube.podLog = (...args) => (reads++, podLog(...args));
    await takeSnapshot(kube, 'backend', 'tasks-api', recordedAt);
    const again = await takeSnapshot(kube, 'backend', 'tasks-api', recordedAt);
    expect(reads).toBe(2); // one per pod, the second snapshot from memory
    expect(again.podStarts.map((s) => s.firstRequestAfter)).toEqual([0.488, 0.214]);

    const denied = await takeSnapshot(memoryKube(loadScenario('healthy'), { logsForbidden: true }), 'backend', 'tasks-api', recordedAt);
    expect(denied.unreadable).toEqual(['pods/log']);
    expect(denied.podStarts.map((s) => [s.total, s.firstRequestAfter, s.answeredAfter])).toEqual([[5, undefined, undefined], [2, undefined, undefined]]);
  });

  it('reports a service at zero in Proxy mode', async () => {
    const snap = await snapshotOf('scaled-to-zero');
    const rev = snap.revisions[0]!;
    expect(rev).toMatchObject({ name: 'tasks-api-00002', phase: 'zero', mode: 'Proxy', active: 'False', activeReason: 'NoTraffic', traffic: 100 });
    expect(rev.pods).toMatchObject({ desired: 0, actual: 0, requested: 0, ready: 0 });
    expect(snap.podStarts).toEqual([]);
  });

  it('reports a cold start in progress with the pod still waiting', async () => {
    const snap = await snapshotOf('cold-start');
    expect(snap.revisions[0]).toMatchObject({ phase: 'waking', active: 'Unknown', activeReason: 'Queued' });
    expect(snap.revisions[0]!.pods).toMatchObject({ desired: 1, actual: 0, requested: 1, pending: 1 });
    expect(snap.podStarts[0]).toMatchObject({ waiting: 'ContainerCreating', scheduledAfter: 0 });
    expect(snap.podStarts[0]!.total).toBeUndefined();
  });

  it('recognises a burst: pods serving, more wanted, activator back in the path', async () => {
    const snap = await snapshotOf('burst');
    expect(snap.revisions[0]).toMatchObject({ phase: 'bursting', mode: 'Proxy' });
    expect(snap.revisions[0]!.pods).toEqual({ desired: 5, actual: 3, requested: 5, ready: 3, pending: 2, notReady: 0, terminating: 0 });
    expect(snap.totals).toEqual({ desired: 5, actual: 3, ready: 3, pending: 2 });
  });

  it('explains a failed revision and keeps traffic on the last ready one', async () => {
    const snap = await snapshotOf('revision-failed');
    expect(snap.service.ready).toBe('False');
    expect(snap.service.reason).toContain('RevisionFailed');
    const [failed, serving] = snap.revisions;
    expect(failed).toMatchObject({ name: 'tasks-api-00003', phase: 'failed', traffic: 0, latestCreated: true, latestReady: false });
    expect(failed!.reason).toMatch(/^ExitCode1: Container failed with: Error: Cannot find module/);
    expect(serving).toMatchObject({ name: 'tasks-api-00002', traffic: 100, phase: 'steady' });
    expect(snap.podStarts.find((p) => p.revision === 'tasks-api-00003')).toMatchObject({ waiting: 'CrashLoopBackOff' });
  });

  it('says plainly when the Knative Service does not exist', async () => {
    const err = await snapshotOf('no-service').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeError);
    expect(err).toMatchObject({ reason: 'not-found' });
    expect((err as Error).message).toContain('no Knative Service "tasks-api" in namespace "backend"');
  });

  it('passes a 403 on the Revisions, so the command can say which permission is missing', async () => {
    const kube = memoryKube(loadScenario('healthy'), { forbidden: [{ kind: 'Revision' }] });
    await expect(takeSnapshot(kube, 'backend', 'tasks-api')).rejects.toMatchObject({ reason: 'forbidden' });
  });

  it("falls back to the Revision's counts when Knative's internal kinds are not readable", async () => {
    const kube = memoryKube(loadScenario('healthy'), { forbidden: [{ kind: 'PodAutoscaler' }, { kind: 'ServerlessService' }] });
    const snap = await takeSnapshot(kube, 'backend', 'tasks-api', recordedAt);
    expect(snap.unreadable).toEqual(['podautoscalers.autoscaling.internal.knative.dev', 'serverlessservices.networking.internal.knative.dev']);
    expect(snap.revisions[0]).toMatchObject({ phase: 'steady', mode: null, pods: { desired: 2, actual: 2, ready: 2 } });
  });
});

describe('phaseOf', () => {
  const base = { ready: 'True' as const, traffic: 100, tags: [], mode: 'Serve' as const };
  const pods = (desired: number | null, actual: number | null) => ({ desired, actual, requested: desired, ready: actual ?? 0, pending: 0, notReady: 0, terminating: 0 });

  it('tells scaling up from down and scaling to zero from bursting', () => {
    expect(phaseOf({ ...base, pods: pods(3, 1) })).toBe('scaling-up');
    expect(phaseOf({ ...base, pods: pods(1, 3) })).toBe('scaling-down');
    expect(phaseOf({ ...base, mode: 'Proxy', pods: pods(0, 1) })).toBe('scaling-down');
    expect(phaseOf({ ...base, mode: 'Proxy', pods: pods(2, 2) })).toBe('bursting');
    expect(phaseOf({ ...base, pods: pods(null, null) })).toBe('zero');
    expect(phaseOf({ ...base, traffic: 0, pods: pods(0, 0) })).toBe('retired');
    expect(phaseOf({ ...base, traffic: 0, tags: ['canary'] as never[], pods: pods(0, 0) })).toBe('zero');
  });
});

describe('podStart', () => {
  it('accepts Date timestamps as client-node returns them for built-in kinds', () => {
    const pod = {
      metadata: { name: 'p', labels: { 'serving.knative.dev/revision': 'r' }, creationTimestamp: new Date('2026-01-01T00:00:00Z') },
      status: {
        conditions: [
          { type: 'PodScheduled', status: 'True', lastTransitionTime: new Date('2026-01-01T00:00:01Z') },
          { type: 'Ready', status: 'True', lastTransitionTime: new Date('2026-01-01T00:00:04Z') },
        ],
        containerStatuses: [{ name: 'user-container', state: { running: { startedAt: new Date('2026-01-01T00:00:03Z') } } }],
      },
    };
    expect(podStart(pod)).toEqual({
      pod: 'p',
      revision: 'r',
      createdAt: '2026-01-01T00:00:00.000Z',
      scheduledAfter: 1,
      total: 4,
      readyAt: '2026-01-01T00:00:04.000Z',
    });
    pod.status.conditions.push(
      { type: 'Initialized', status: 'True', lastTransitionTime: new Date('2026-01-01T00:00:01Z') },
      { type: 'ContainersReady', status: 'True', lastTransitionTime: new Date('2026-01-01T00:00:03Z') },
    );
    expect(podStart(pod, '2026-01-01T00:00:04.250Z')).toMatchObject({ initializedAfter: 0, containersReadyAfter: 2, readyAfter: 1, firstRequestAfter: 0.25 });
    // Ready is recorded to the second: an answer within that second counts as 0, one before it is not this start's.
    expect(podStart(pod, '2026-01-01T00:00:03.600Z')).toMatchObject({ firstRequestAfter: 0 });
    expect(podStart(pod, '2026-01-01T00:00:02.900Z')!.firstRequestAfter).toBeUndefined();
  });

  it('skips pods that do not belong to a revision', () => {
    expect(podStart({ metadata: { name: 'x', creationTimestamp: '2026-01-01T00:00:00Z' } })).toBeUndefined();
  });
});

describe('firstRequestTime', () => {
  it("finds the cold-start request line's time and skips probes, other lines and a line cut short", () => {
    const log = [
      '{"level":"info","time":"2026-01-01T00:00:01.000Z","msg":"listening"}',
      '{"level":"info","time":"2026-01-01T00:00:01.500Z","method":"GET","path":"/healthz","status":200,"msg":"request"}',
      '{"level":"info","time":"2026-01-01T00:00:02.000Z","coldStart":true,"sinceStartMs',
    ].join('\n');
    expect(firstRequestTime(log)).toBeUndefined();
    expect(firstRequestTime(`${log}\n{"level":"info","time":"2026-01-01T00:00:02.125Z","coldStart":true,"msg":"request"}\n`)).toBe('2026-01-01T00:00:02.125Z');
  });
});

describe('grownPhases', () => {
  const start = (pod: string, containersReadyAfter: number) => ({ pod, revision: 'r', createdAt: '2026-01-01T00:00:00Z', scheduledAfter: 0, containersReadyAfter, total: containersReadyAfter });

  it('marks a phase at twice the median of the other starts and 2 s more, never against itself or one other', () => {
    expect(grownPhases([start('a', 9), start('b', 2)])).toEqual([]); // one other start is no median
    expect(grownPhases([start('a', 9), start('b', 2), start('c', 3)])).toEqual([{ pod: 'a', phase: 'containersReadyAfter', seconds: 9, medianSeconds: 2.5, of: 2 }]);
    expect(grownPhases([start('a', 2), start('b', 1), start('c', 1)])).toEqual([]); // twice, but within 2 s: the conditions' resolution
    // Starts seen earlier in the window count too, a pod shown again only once.
    expect(grownPhases([start('a', 9)], [start('a', 9), start('old1', 2), start('old2', 2)])).toEqual([{ pod: 'a', phase: 'containersReadyAfter', seconds: 9, medianSeconds: 2, of: 2 }]);
  });
});
