import type { PoolStats } from './db';

export type StartupPhase = 'listening' | 'ready' | 'first_request';

type Sample = [method: string, route: string, status: number, seconds: number];

/**
 * Prometheus metrics for /metrics: requests by route and status, pool use, start-up timings, and
 * the rows in idempotency_keys (`idempotencyKeys`, asked once per scrape).
 *
 * prom-client costs about 20 ms of CPU to load and set up, which a scale-from-zero request
 * would wait for. So it is loaded just after the first request has been answered (or on the
 * first scrape); samples taken before that are buffered and replayed, so none are lost.
 */
export function createMetrics(
  poolStats: () => PoolStats | undefined,
  logLinesDropped: () => number = () => 0,
  idempotencyKeys: () => Promise<number | undefined> = async () => undefined,
) {
  let pending: Sample[] = [];
  const phases = new Map<StartupPhase, number>();
  let firstRequestSeconds: number | undefined;
  let loading: Promise<Live> | undefined;
  let live: Live | undefined;

  const load = () =>
    (loading ??= import('prom-client').then((prom) => {
      live = setUp(prom, poolStats, logLinesDropped, idempotencyKeys);
      for (const s of pending) live.observe(...s);
      pending = [];
      for (const [phase, v] of phases) live.startup.set({ phase }, v);
      if (firstRequestSeconds !== undefined) live.firstRequest.set(firstRequestSeconds);
      return live;
    }));

  return {
    observe(method: string, route: string, status: number, seconds: number) {
      if (live) live.observe(method, route, status, seconds);
      else pending.push([method, route, status, seconds]);
    },
    startupPhase(phase: StartupPhase, secondsSinceStart: number) {
      phases.set(phase, secondsSinceStart);
      live?.startup.set({ phase }, secondsSinceStart);
    },
    firstRequest(seconds: number) {
      firstRequestSeconds = seconds;
      live?.firstRequest.set(seconds);
      // After the response is on its way: load the library off the cold-start path.
      setImmediate(() => void load());
    },
    /** Loads prom-client if needed (also after a quiet minute), then renders the text format. */
    async render(): Promise<{ contentType: string; body: string }> {
      const m = await load();
      return { contentType: m.registry.contentType, body: await m.registry.metrics() };
    },
    load,
  };
}

function setUp(
  prom: typeof import('prom-client'),
  poolStats: () => PoolStats | undefined,
  logLinesDropped: () => number,
  idempotencyKeys: () => Promise<number | undefined>,
) {
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new prom.Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames, registers: [registry] });
  const duration = new prom.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new prom.Gauge({
    name: 'db_pool_connections',
    help: 'Database pool connections by state (total, idle, in_use, waiting = queued requests)',
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
  let droppedSeen = 0;
  new prom.Counter({
    name: 'tasks_api_log_lines_dropped_total',
    help: 'Log lines dropped because stdout was not being read (logger.ts)',
    registers: [registry],
    collect() {
      const now = logLinesDropped();
      if (now > droppedSeen) this.inc(now - droppedSeen);
      droppedSeen = now;
    },
  });
  new prom.Gauge({
    name: 'idempotency_keys',
    help: "Rows in idempotency_keys: PostgreSQL's estimate (pg_class.reltuples, as of the last VACUUM or ANALYZE; a count while the table has never been analysed), read once per scrape",
    registers: [registry],
    async collect() {
      // NaN (not a made-up 0) while the database cannot be asked; a scrape never fails for it.
      this.set((await idempotencyKeys().catch(() => undefined)) ?? NaN);
    },
  });
  const children = new Map<string, { requests: ReturnType<typeof requests.labels>; duration: ReturnType<typeof duration.labels> }>();
  const startup = new prom.Gauge({
    name: 'tasks_api_startup_seconds',
    help: 'Seconds from process start to listening, to ready and to the first served request',
    labelNames: ['phase'],
    registers: [registry],
  });
  const firstRequest = new prom.Gauge({
    name: 'tasks_api_cold_start_first_request_duration_seconds',
    help: 'Duration of the first request this process served (includes connecting to the database)',
    registers: [registry],
  });
  return {
    registry,
    startup,
    firstRequest,
    observe(method: string, route: string, status: number, seconds: number) {
      // One pair of children per label set, looked up by a string: prom-client would otherwise
      // sort and hash the label object twice on every request.
      const key = `${method} ${status} ${route}`;
      let child = children.get(key);
      if (!child) {
        const labels = { method, route, status: String(status) };
        children.set(key, (child = { requests: requests.labels(labels), duration: duration.labels(labels) }));
      }
      child.requests.inc();
      child.duration.observe(seconds);
    },
  };
}
type Live = ReturnType<typeof setUp>;

export type Metrics = ReturnType<typeof createMetrics>;
