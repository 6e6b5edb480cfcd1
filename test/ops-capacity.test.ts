// The capacity search that picks the per-pod concurrency the autoscaling target cites.
import { describe, expect, it } from 'vitest';
import { type CapacitySample, capacityMarkdown, combineRounds, findCapacity } from '../bench/capacity';

const s = (concurrency: number, p99: number, errors = 0): CapacitySample => ({ concurrency, rps: concurrency * 100, p50: Math.round(p99 / 3), p99, errors });

describe('findCapacity', () => {
  it('picks the highest step under the bound', () => {
    const choice = findCapacity([s(1, 3), s(2, 4), s(4, 6), s(8, 12), s(16, 30), s(32, 140)], 100);
    expect(choice.concurrency).toBe(16);
    expect(choice.reason).toBe('highest step within the bound; at 32 in flight: p99 140 ms > 100 ms');
  });

  it('does not jump over a violation to a lucky step above it', () => {
    expect(findCapacity([s(4, 20), s(8, 120), s(16, 90)], 100).concurrency).toBe(4);
  });

  it('treats errors as a violation whatever the latency', () => {
    expect(findCapacity([s(4, 20), s(8, 25, 3)], 100)).toMatchObject({ concurrency: 4, reason: expect.stringContaining('3 errors') });
  });

  it('orders samples by concurrency before judging', () => {
    expect(findCapacity([s(16, 150), s(4, 20), s(8, 40)], 100).concurrency).toBe(8);
  });

  it('says when nothing fits and when the limit was never reached', () => {
    expect(findCapacity([s(1, 500)], 100)).toEqual({ concurrency: null, reason: 'already at 1 in flight: p99 500 ms > 100 ms' });
    expect(findCapacity([s(1, 5), s(2, 6)], 100)).toMatchObject({ concurrency: 2, reason: expect.stringContaining('real limit is higher') });
    expect(findCapacity([], 100)).toEqual({ concurrency: null, reason: 'no samples' });
  });
});

describe('combineRounds', () => {
  it('takes medians, so one noisy run does not decide, and keeps every error', () => {
    expect(combineRounds([s(32, 30), s(32, 400), s(32, 40, 1)])).toEqual({ concurrency: 32, rps: 3200, p50: 13, p99: 40, errors: 1 });
  });
});

describe('capacityMarkdown', () => {
  it('tabulates the steps and states the chosen figure', () => {
    const samples = [s(8, 12), s(16, 140)];
    const md = capacityMarkdown({ measuredAt: '2026-11-27', machine: '2 × test CPU', p99BoundMs: 100, stepSeconds: 5, rounds: 3, samples, choice: findCapacity(samples, 100), path: '/api/tasks' });
    expect(md).toContain('| 8 | 800 | 4 | 12 | 0 | yes |');
    expect(md).toContain('| 16 | 1600 | 47 | 140 | 0 | no |');
    expect(md).toContain('**8 requests in flight per pod** keep p99 ≤ 100 ms');
    expect(md).toMatch(/^Measured 2026-11-27 on 2 × test CPU: .* each step 3 × 5 s \(medians\)\./);
  });
});
