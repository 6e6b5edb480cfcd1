import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoadProgress, formatProgress, formatSummary, percentile, runLoad, validateLoad } from './load';

let server: Server;
let url: string;
const seen: { method?: string; header?: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ method: req.method, header: req.headers['x-probe'] as string | undefined });
    const status = req.url === '/fail' ? 503 : 200;
    setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end('{"ok":true}'), 20);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('runLoad', () => {
  it('holds the requested rate, reports progress each second and summarises latency', async () => {
    const ticks: LoadProgress[] = [];
    const summary = await runLoad({ url: `${url}/ok`, rps: 40, concurrency: 4, durationS: 2, headers: { 'x-probe': 'yes' } }, (p) => ticks.push(p));
    // Judge the rate, not the count: on a busy machine the run can overrun its 2 s a little.
    expect(summary.requests).toBeGreaterThanOrEqual(40);
    expect(summary.rps).toBeGreaterThanOrEqual(25);
    expect(summary.rps).toBeLessThanOrEqual(50);
    expect(summary.ok).toBe(summary.requests);
    expect(summary.non2xx + summary.errors).toBe(0);
    expect(summary.latencyMs.p50).toBeGreaterThan(0);
    expect(summary.latencyMs.p99).toBeGreaterThanOrEqual(summary.latencyMs.p50);
    expect(summary.statusCodes).toEqual({ '200': summary.requests });
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    expect(ticks.at(-1)!.total).toBe(summary.requests);
    expect(seen.every((s) => s.header === 'yes')).toBe(true);
  });

  it('counts non-2xx answers', async () => {
    const summary = await runLoad({ url: `${url}/fail`, concurrency: 2, rps: 20, durationS: 1 });
    expect(summary.requests).toBeGreaterThan(0);
    expect(summary.non2xx).toBe(summary.requests);
    expect(summary.statusCodes['503']).toBe(summary.requests);
  });

  it('stops early when the target refuses connections', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const started = Date.now();
    const summary = await runLoad({ url: `http://127.0.0.1:${port}/`, concurrency: 2, durationS: 20 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(summary.requests).toBe(0);
    expect(summary.errors).toBeGreaterThanOrEqual(200);
    expect(formatSummary(summary)).toContain('stopped early after 200 connection errors');
  });

  it('refuses options outside the bounds', async () => {
    await expect(runLoad({ url, concurrency: 1, durationS: 3600 })).rejects.toThrow('--duration must be between 1s and 600s');
  });
});

describe('validateLoad', () => {
  it('names each problem', () => {
    expect(validateLoad({ url: 'localhost:8080', concurrency: 0, durationS: 10, rps: 100_000 })).toEqual([
      '--url must be http(s)://…, got "localhost:8080"',
      '--rps must be between 1 and 5000',
      '--concurrency must be a whole number between 1 and 1000',
    ]);
    expect(validateLoad({ url: 'http://x', concurrency: 10, durationS: 30 })).toEqual([]);
  });
});

describe('formatting', () => {
  it('prints a progress line and a summary people can read', () => {
    expect(formatProgress({ elapsedS: 5, rps: 120, total: 600, errors: 0, non2xx: 3, p50: 12.4, p99: 1450 }, 30)).toBe(
      ' 5/30s    120 req/s  p50 12ms  p99 1.45s  total 600  non-2xx 3',
    );
    expect(
      formatSummary({
        url: 'http://x/api/tasks',
        durationS: 30,
        requests: 3000,
        rps: 100,
        ok: 2998,
        non2xx: 2,
        errors: 0,
        timeouts: 0,
        latencyMs: { p50: 8, p90: 15, p99: 2100, max: 2400, mean: 11.2 },
        statusCodes: { '200': 2998, '503': 2 },
      }),
    ).toBe(
      '3000 requests in 30s (100 req/s) to http://x/api/tasks\n' +
        'latency  p50 8ms  p90 15ms  p99 2.10s  max 2.40s  mean 11ms\n' +
        'status   200×2998 503×2',
    );
  });

  it('takes nearest-rank percentiles', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
    expect(percentile([], 99)).toBe(0);
  });
});
