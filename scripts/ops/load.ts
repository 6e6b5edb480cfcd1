// A bounded load generator: a fixed rate (--rps) or a fixed number of requests in flight
// (--concurrency) for a fixed time, with a progress line per second and a latency summary.
// Bounded on purpose: it exists to watch the API scale next to `watch:scale`, not to flatten
// a shared cluster by accident.
import autocannon from 'autocannon';

export const limits = { maxDurationS: 600, maxRps: 5000, maxConcurrency: 1000 } as const;

/** Give up after this many failed requests (connection errors, timeouts): the target is down, hammering it helps nobody. */
export const bailoutErrors = 200;

export interface LoadOptions {
  url: string;
  /** Target requests per second across all connections; without it, as fast as responses come. */
  rps?: number;
  /** Connections, i.e. requests in flight at most. */
  concurrency: number;
  durationS: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Per-request timeout in seconds. */
  timeoutS?: number;
}

export interface LoadProgress {
  elapsedS: number;
  /** Responses in the last second. */
  rps: number;
  total: number;
  errors: number;
  non2xx: number;
  /** Latency of the last second's responses, ms. */
  p50: number;
  p99: number;
}

export interface LoadSummary {
  url: string;
  durationS: number;
  requests: number;
  rps: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  statusCodes: Record<string, number>;
}

/** Check options against the bounds; returns the problems (empty when fine). */
export function validateLoad(o: Partial<LoadOptions>): string[] {
  const problems: string[] = [];
  if (!o.url) problems.push('--url is required');
  else if (!/^https?:\/\//.test(o.url)) problems.push(`--url must be http(s)://…, got "${o.url}"`);
  const positive = (v: number | undefined) => v !== undefined && Number.isFinite(v) && v > 0;
  if (!positive(o.durationS) || o.durationS! > limits.maxDurationS) problems.push(`--duration must be between 1s and ${limits.maxDurationS}s`);
  if (o.rps !== undefined && (!positive(o.rps) || o.rps > limits.maxRps)) problems.push(`--rps must be between 1 and ${limits.maxRps}`);
  if (!positive(o.concurrency) || !Number.isInteger(o.concurrency) || o.concurrency! > limits.maxConcurrency) {
    problems.push(`--concurrency must be a whole number between 1 and ${limits.maxConcurrency}`);
  }
  return problems;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Run the load; resolves with the summary when the duration is over (or `signal` aborts). */
export function runLoad(o: LoadOptions, onProgress?: (p: LoadProgress) => void, signal?: AbortSignal): Promise<LoadSummary> {
  const problems = validateLoad(o);
  if (problems.length) return Promise.reject(new Error(problems.join('; ')));
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let second: number[] = [];
    let total = 0;
    let errors = 0;
    let non2xx = 0;
    const failed = () => {
      if (++errors >= bailoutErrors) instance.stop();
    };
    const instance = autocannon(
      {
        url: o.url,
        connections: o.concurrency,
        duration: o.durationS,
        ...(o.rps ? { overallRate: o.rps } : {}),
        method: o.method ?? 'GET',
        headers: o.headers ?? {},
        ...(o.body !== undefined ? { body: o.body } : {}),
        timeout: o.timeoutS ?? 30, // cold starts take seconds; do not count a waking pod as an error
        // autocannon reconnects at once after a refused connection, whether or not a request is
        // due, and counts each reconnect as an error: thousands a second against a closed port at
        // --rps 10. Count one error per request actually sent, and bail out on that count.
        setupClient: (client) => {
          let inFlight = 0;
          client.on('request', () => inFlight++);
          client.on('response', () => (inFlight = Math.max(0, inFlight - 1)));
          client.on('timeout', () => {
            inFlight = Math.max(0, inFlight - 1);
            failed();
          });
          client.on('connError', () => {
            if (inFlight === 0) return; // a reconnect with no request due
            inFlight--;
            failed();
          });
        },
      },
      (err, result) => {
        signal?.removeEventListener('abort', abort);
        if (err) return reject(err);
        resolve(summarize(o.url, result, errors));
      },
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      second.push(ms);
      total++;
      if (status < 200 || status > 299) non2xx++;
    });
    instance.on('tick', () => {
      // autocannon ticks once more as it stops; an empty last second is not news.
      if (second.length === 0 && Date.now() - started >= o.durationS * 1000) return;
      const sorted = second.sort((a, b) => a - b);
      onProgress?.({
        elapsedS: Math.round((Date.now() - started) / 1000),
        rps: sorted.length,
        total,
        errors,
        non2xx,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
      });
      second = [];
    });
    const abort = () => instance.stop();
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/** `errors`: failed requests as counted above (autocannon's own count includes idle reconnects). */
function summarize(url: string, r: import('autocannon').Result, errors: number): LoadSummary {
  const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, s.count]));
  const requests = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  return {
    url,
    durationS: r.duration,
    requests,
    rps: r.duration > 0 ? Math.round((requests / r.duration) * 10) / 10 : 0,
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors,
    timeouts: r.timeouts,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: Math.round(r.latency.mean * 10) / 10 },
    statusCodes,
  };
}

export function formatProgress(p: LoadProgress, durationS: number): string {
  const width = String(durationS).length;
  return (
    `${String(p.elapsedS).padStart(width)}/${durationS}s  ${String(p.rps).padStart(5)} req/s  ` +
    `p50 ${ms(p.p50)}  p99 ${ms(p.p99)}  total ${p.total}` +
    (p.non2xx ? `  non-2xx ${p.non2xx}` : '') +
    (p.errors ? `  errors ${p.errors}` : '')
  );
}

export function formatSummary(s: LoadSummary): string {
  const codes = Object.entries(s.statusCodes).map(([c, n]) => `${c}×${n}`).join(' ') || 'none';
  return [
    `${s.requests} requests in ${s.durationS}s (${s.rps} req/s) to ${s.url}`,
    `latency  p50 ${ms(s.latencyMs.p50)}  p90 ${ms(s.latencyMs.p90)}  p99 ${ms(s.latencyMs.p99)}  max ${ms(s.latencyMs.max)}  mean ${ms(s.latencyMs.mean)}`,
    `status   ${codes}${s.errors ? `  connection errors ${s.errors}` : ''}${s.timeouts ? `  timeouts ${s.timeouts}` : ''}`,
    ...(s.errors >= bailoutErrors ? [`stopped early after ${bailoutErrors} connection errors: is the URL reachable?`] : []),
  ].join('\n');
}

function ms(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${Math.round(v)}ms`;
}
