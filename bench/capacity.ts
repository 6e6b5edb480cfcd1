// Capacity per pod: how many requests one API process can have in flight while p99 latency
// stays under a bound. Knative's `target` annotation is exactly that number (in-flight requests
// per pod), so this is the measurement the autoscaling values cite.
//
// It drives the bundled API (one process, as in one pod) on the machine's PostgreSQL with 100
// tasks, at increasing concurrency with autocannon, and picks the highest step that kept p99
// under the bound with no errors. Run alone with `npx tsx bench/capacity.ts --help`;
// `npm run bench` runs it too.
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { ensureBundle, migrateBundle, startApi } from '../test/support/api';
import { createTestDatabase } from '../test/support/postgres';
import { exitCode, runCommandLine } from '../scripts/ops/cli';

export interface CapacitySample {
  concurrency: number;
  rps: number;
  p50: number;
  p99: number;
  /** Non-2xx answers, connection errors and timeouts. */
  errors: number;
}

export interface CapacityChoice {
  /** The chosen in-flight requests per pod, or null when even the first step broke the bound. */
  concurrency: number | null;
  sample?: CapacitySample;
  reason: string;
}

/**
 * Pure: the highest concurrency whose step, and every step below it, kept p99 ≤ bound with no
 * errors. Stopping at the first violation keeps one lucky step above a bad one from being chosen.
 */
export function findCapacity(samples: CapacitySample[], p99BoundMs: number): CapacityChoice {
  const steps = [...samples].sort((a, b) => a.concurrency - b.concurrency);
  let chosen: CapacitySample | undefined;
  for (const s of steps) {
    if (s.errors > 0 || s.p99 > p99BoundMs) {
      const why = s.errors > 0 ? `${s.errors} errors` : `p99 ${s.p99} ms > ${p99BoundMs} ms`;
      return chosen
        ? { concurrency: chosen.concurrency, sample: chosen, reason: `highest step within the bound; at ${s.concurrency} in flight: ${why}` }
        : { concurrency: null, reason: `already at ${s.concurrency} in flight: ${why}` };
    }
    chosen = s;
  }
  return chosen
    ? { concurrency: chosen.concurrency, sample: chosen, reason: 'every step stayed within the bound (the real limit is higher)' }
    : { concurrency: null, reason: 'no samples' };
}

export interface CapacityOptions {
  /** A migrated database to use; without it a fresh one is made on the test server. */
  databaseUrl?: string;
  p99BoundMs?: number;
  steps?: number[];
  stepSeconds?: number;
  /** Runs per step; the step's figures are the medians (shared machines are noisy). */
  rounds?: number;
  path?: string;
  log?: (line: string) => void;
}

export interface CapacityReport {
  measuredAt: string;
  machine: string;
  p99BoundMs: number;
  stepSeconds: number;
  rounds: number;
  samples: CapacitySample[];
  choice: CapacityChoice;
  markdown: string;
}

export const defaultSteps = [1, 2, 4, 8, 16, 32, 64, 128, 256];

async function migrate(databaseUrl: string): Promise<void> {
  await ensureBundle();
  await new Promise<void>((resolve, reject) => {
    const m = spawn(process.execPath, [migrateBundle], {
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    m.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`migrate exited ${code}`))));
  });
}

async function seed(databaseUrl: string): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query('TRUNCATE main_table RESTART IDENTITY');
    await c.query("INSERT INTO main_table (task) SELECT 'Task number ' || g FROM generate_series(1, 100) g");
    await c.query('VACUUM ANALYZE main_table');
  } finally {
    await c.end();
  }
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Median figures of several runs at one concurrency; errors are summed, so any error counts. */
export function combineRounds(runs: CapacitySample[]): CapacitySample {
  return {
    concurrency: runs[0]!.concurrency,
    rps: Math.round(median(runs.map((r) => r.rps))),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
  };
}

async function step(url: string, concurrency: number, seconds: number): Promise<CapacitySample> {
  const r = await new Promise<import('autocannon').Result>((resolve, reject) =>
    autocannon({ url, connections: concurrency, duration: seconds, timeout: 10 }, (err, res) => (err ? reject(err) : resolve(res))),
  );
  return { concurrency, rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99, errors: r.non2xx + r.errors + r.timeouts };
}

export async function runCapacity(opts: CapacityOptions = {}): Promise<CapacityReport> {
  const bound = opts.p99BoundMs ?? 100;
  const steps = opts.steps ?? defaultSteps;
  const seconds = opts.stepSeconds ?? 5;
  const rounds = opts.rounds ?? 3;
  const log = opts.log ?? ((line: string) => console.log(line));
  const own = opts.databaseUrl ? undefined : await createTestDatabase('tasks_capacity');
  const databaseUrl = opts.databaseUrl ?? own!.url;
  const samples: CapacitySample[] = [];
  // Other work on the machine skews the figure; say how busy it was.
  const load = loadavg()[0]!.toFixed(1);
  try {
    await migrate(databaseUrl);
    await seed(databaseUrl);
    const api = await startApi({ env: { DB_DRIVER: 'pg', DATABASE_URL: databaseUrl, NODE_ENV: 'production', LOG_LEVEL: 'warn' } });
    try {
      const url = `${api.url}${opts.path ?? '/api/tasks'}`;
      await step(url, steps[0] ?? 1, 2); // warm-up: JIT and pool connections, not counted
      for (const c of steps) {
        const runs: CapacitySample[] = [];
        for (let i = 0; i < rounds; i++) runs.push(await step(url, c, seconds));
        const s = combineRounds(runs);
        samples.push(s);
        log(`capacity: ${String(c).padStart(4)} in flight  ${String(s.rps).padStart(6)} req/s  p50 ${s.p50} ms  p99 ${s.p99} ms${s.errors ? `  ${s.errors} errors` : ''}`);
        // Well past the bound the answer cannot change; more steps only cost time.
        if (s.errors > 0 || s.p99 > 2 * bound) break;
      }
    } finally {
      await api.stop();
    }
  } finally {
    await own?.drop();
  }
  const choice = findCapacity(samples, bound);
  const measuredAt = new Date().toISOString().slice(0, 10);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${load} at the start`;
  const path = opts.path ?? '/api/tasks';
  const base = { measuredAt, machine, p99BoundMs: bound, stepSeconds: seconds, rounds, samples, choice };
  return { ...base, markdown: capacityMarkdown({ ...base, path }) };
}

export function capacityMarkdown(r: { measuredAt: string; machine: string; p99BoundMs: number; stepSeconds: number; rounds: number; samples: CapacitySample[]; choice: CapacityChoice; path: string }): string {
  const rows = r.samples.map(
    (s) =>
      `| ${s.concurrency} | ${s.rps} | ${s.p50} | ${s.p99} | ${s.errors} | ${s.errors === 0 && s.p99 <= r.p99BoundMs ? 'yes' : 'no'} |`,
  );
  const verdict =
    r.choice.concurrency === null
      ? `No concurrency kept p99 ≤ ${r.p99BoundMs} ms (${r.choice.reason}).`
      : `**${r.choice.concurrency} requests in flight per pod** keep p99 ≤ ${r.p99BoundMs} ms (${r.choice.reason}). ` +
        `Knative's \`autoscaling.knative.dev/target\` is in-flight requests per pod; with the default 70 % target utilisation it starts adding pods at 0.7 × target.`;
  return [
    `Measured ${r.measuredAt} on ${r.machine}: one API process (as in one pod) on PostgreSQL at 127.0.0.1 with 100 tasks, GET ${r.path}, autocannon, each step ${r.rounds} × ${r.stepSeconds} s (medians).`,
    '',
    '| in flight | req/s | p50 ms | p99 ms | errors | p99 within bound |',
    '| ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
    '',
    verdict,
  ].join('\n');
}

const help = `Find the API's capacity per pod: the highest number of requests in flight for which
p99 latency stays under a bound (the figure Knative's autoscaling target wants).

Usage: npx tsx bench/capacity.ts [--p99 <ms>] [--seconds <s>] [--rounds <n>] [--steps 1,2,4,...] [--database-url <url>]

  --p99 <ms>            the p99 latency bound (default 100)
  --seconds <s>         seconds per run (default 5)
  --rounds <n>          runs per step; the step's figures are their medians (default 3)
  --steps <list>        concurrency steps (default ${defaultSteps.join(',')})
  --database-url <url>  a PostgreSQL database to use (default: a fresh one on TEST_DATABASE_URL's server)
  -h, --help            show this help

On real nodes, run the API image with the pod's CPU and memory limits and point this at it instead;
see platform/observability/README.md ("Redo the capacity measurement").
`;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runCommandLine(
    {
      name: 'capacity',
      help,
      flags: {
        p99: { type: 'string' },
        seconds: { type: 'string' },
        rounds: { type: 'string' },
        steps: { type: 'string' },
        'database-url': { type: 'string' },
      },
    },
    async (a) => {
      const report = await runCapacity({
        ...(a.p99 ? { p99BoundMs: Number(a.p99) } : {}),
        ...(a.seconds ? { stepSeconds: Number(a.seconds) } : {}),
        ...(a.rounds ? { rounds: Number(a.rounds) } : {}),
        ...(a.steps ? { steps: a.steps.split(',').map(Number) } : {}),
        ...(a['database-url'] ? { databaseUrl: a['database-url'] } : {}),
      });
      console.log(`\n${report.markdown}`);
      return exitCode.ok;
    },
  );
}
