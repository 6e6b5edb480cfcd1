import { describe, expect, it } from 'vitest';
import { loadScenario, memoryKube, recordedAt, type Scenario } from '../../test/fixtures/k8s/index';
import { ScaleHistory, diffSnapshots } from './scale-history';
import { takeSnapshot } from './snapshot';

const snap = (scenario: Scenario, at = recordedAt) => takeSnapshot(memoryKube(loadScenario(scenario)), 'backend', 'tasks-api', at);

describe('diffSnapshots', () => {
  it('sees a wake-up from zero, then the pods arriving with their start times', async () => {
    const zero = await snap('scaled-to-zero', recordedAt);
    const waking = await snap('cold-start', recordedAt + 2000);
    const serving = await snap('healthy', recordedAt + 4000);

    expect(diffSnapshots(zero, waking).map((e) => `${e.kind}: ${e.text}`)).toEqual(['scale: autoscaler wants 0 → 1 pods (waking from zero)']);
    expect(diffSnapshots(waking, serving).map((e) => `${e.kind}: ${e.text}`)).toEqual([
      'scale: autoscaler wants 1 → 2 pods',
      'pods: ready pods 0 → 2',
      'mode: Proxy → Serve (pods serve directly)',
      'cold-start: pod tasks-api-00002-deployment-6d9f8b7c5d-q7w4z ready 5.0s after creation (scheduled 0.0s, initialized 0.0s, containers ready 5.0s, ready 0.0s)',
      'cold-start: pod tasks-api-00002-deployment-6d9f8b7c5d-x2k9p ready 2.0s after creation (scheduled 0.0s, initialized 0.0s, containers ready 2.0s, ready 0.0s)',
    ]);
  });

  it('reports a new failing revision and a burst', async () => {
    const healthy = await snap('healthy');
    expect(diffSnapshots(healthy, await snap('revision-failed')).map((e) => e.text)).toEqual([
      expect.stringMatching(/^new revision tasks-api-00003 \(failing: ExitCode1: Container failed/),
    ]);
    expect(diffSnapshots(healthy, await snap('burst')).map((e) => e.text)).toEqual([
      'autoscaler wants 2 → 5 pods',
      'ready pods 2 → 3',
      'Serve → Proxy (activator in the path)',
      expect.stringMatching(/^pod tasks-api-00002-deployment-6d9f8b7c5d-b7t2c ready 3.0s after creation/),
    ]);
  });
});

describe('ScaleHistory', () => {
  it('keeps samples for the chart window only and collects events', async () => {
    const history = new ScaleHistory(60_000);
    history.add(await snap('scaled-to-zero', recordedAt));
    history.add(await snap('cold-start', recordedAt + 30_000));
    const fresh = history.add(await snap('healthy', recordedAt + 90_000));
    expect(history.samples.map((s) => [s.at - recordedAt, s.ready, s.desired])).toEqual([
      [30_000, 0, 1],
      [90_000, 2, 2],
    ]);
    expect(fresh.length).toBe(5);
    expect(history.events.length).toBe(6);
  });

  it('remembers finished pod starts of the window, also of pods gone since, for the view to compare with', async () => {
    const history = new ScaleHistory(5 * 60_000);
    history.add(await snap('healthy', recordedAt));
    history.add(await snap('scaled-to-zero', recordedAt + 60_000)); // the pods are gone
    expect([...history.starts.keys()]).toEqual(['tasks-api-00002-deployment-6d9f8b7c5d-q7w4z', 'tasks-api-00002-deployment-6d9f8b7c5d-x2k9p']);
    // Ready at 09:59:35 and 09:58:02: at 10:04:00 only the first is within the 5-minute window, at 10:05:00 neither.
    history.add(await snap('scaled-to-zero', recordedAt + 4 * 60_000));
    expect([...history.starts.keys()]).toEqual(['tasks-api-00002-deployment-6d9f8b7c5d-q7w4z']);
    history.add(await snap('scaled-to-zero', recordedAt + 5 * 60_000));
    expect([...history.starts.keys()]).toEqual([]);
  });
});
