import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolStats } from './db';

export type StartupPhase = 'listening' | 'ready' | 'first_request';

/** Prometheus metrics for /metrics: requests by route and status, pool use, start-up timings. */
export function createMetrics(poolStats: () => PoolStats | undefined) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'db_pool_connections',
    help: 'Database pool connections by state (total, idle, waiting = queued requests)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const s = poolStats();
      if (!s) return;
      this.set({ state: 'total' }, s.total);
      this.set({ state: 'idle' }, s.idle);
      this.set({ state: 'in_use' }, s.total - s.idle);
      this.set({ state: 'waiting' }, s.waiting);
    },
  });
  const startup = new Gauge({
    name: 'tasks_api_startup_seconds',
    help: 'Seconds from process start to listening, to ready and to the first served request',
    labelNames: ['phase'],
    registers: [registry],
  });
  const firstRequest = new Gauge({
    name: 'tasks_api_cold_start_first_request_duration_seconds',
    help: 'Duration of the first request this process served (includes connecting to the database)',
    registers: [registry],
  });

  return {
    registry,
    observe(method: string, route: string, status: number, seconds: number) {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
    startupPhase(phase: StartupPhase, secondsSinceStart: number) {
      startup.set({ phase }, secondsSinceStart);
    },
    firstRequest(seconds: number) {
      firstRequest.set(seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
