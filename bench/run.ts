import autocannon, { type Result } from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ensureBundle, freePort, migrateBundle, serverBundle } from '../test/support/api';
import { imageSection, imageStartUnavailable, imagesSectionOf, measureImageStart, type ImageStart } from './image-start';
import { createTestDatabase } from '../test/support/postgres';

/**
 * `npm run bench`: the bundled API against a minimal node:http + pg baseline, measured in the
 * same run on the machine's PostgreSQL with 100 tasks. Every figure is a median, and the
 * verdicts are ratios to the baseline (these machines are shared and noisy). The API image's
 * start → first 200 is a ratio to the bare bundle on the host, measured by bench/image-start.ts
 * when this runs as root and `npm run images` has built the image. Prints the table; `--save`
 * also writes it to bench/results.md (a tracked file, so only when asked).
 */
const SAVE = process.argv.includes('--save');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 7);
const CONNECTIONS = 64;
/** Expired Idempotency-Key records waiting when the keyed writes start (the clean-up's backlog). */
const EXPIRED_KEYS = Number(process.env.BENCH_EXPIRED_KEYS ?? 200_000);
const root = fileURLToPath(new URL('..', import.meta.url));
const baselineScript = fileURLToPath(new URL('./baseline-server.mjs', import.meta.url));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};


/** Both servers run as in production: the API logs one JSON line per request (to /dev/null here). */
async function spawnServer(script: string, env: Record<string, string>) {
  const port = await freePort();
  const startedAt = process.hrtime.bigint();
  const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) }, stdio: 'ignore' });
  return { child, port, startedAt };
}

/** Polls with fresh connections until GET /api/tasks answers 200; returns ms since spawn. */
async function firstOk(port: number, startedAt: bigint): Promise<number> {
  for (;;) {
    const status = await new Promise<number>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/tasks', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });
    if (status === 200) return Number(process.hrtime.bigint() - startedAt) / 1e6;
    await new Promise((r) => setTimeout(r, 2));
  }
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** CPU time (user + system) the process has used so far, in µs, from /proc/<pid>/stat (clock ticks). */
const CLOCK_TICK_US = 1e6 / Number(process.env.BENCH_CLK_TCK ?? 100); // getconf CLK_TCK; 100 on Linux
function cpuUs(pid: number): number {
  // The fields after the command name, which is in parentheses and may contain spaces: utime is the 14th field, stime the 15th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_US;
}

interface Figure {
  rps: number;
  p50: number;
  p99: number;
  /** CPU µs the server process spent per answered request. */
  cpuUs: number;
}

/**
 * One load: `keyed` sends a new Idempotency-Key with every request; `path` picks each request's
 * path (PATCH and DELETE walk over existing ids). Any non-2xx answer fails the run.
 */
async function load(
  server: { port: number; pid: number },
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  { path = () => '/api/tasks', body, keyed = false }: { path?: () => string; body?: string; keyed?: boolean } = {},
): Promise<Figure> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  const cpuBefore = cpuUs(server.pid);
  const r = await new Promise<Result>((resolve, reject) =>
    autocannon(
      {
        url: `http://127.0.0.1:${server.port}`,
        connections: CONNECTIONS,
        duration: DURATION,
        requests: [
          {
            method,
            headers,
            ...(body === undefined ? {} : { body }),
            setupRequest: (req) => ({ ...req, path: path(), headers: keyed ? { ...req.headers, 'idempotency-key': `"${randomUUID()}"` } : req.headers }),
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    ),
  );
  const cpu = cpuUs(server.pid) - cpuBefore;
  const bad = r.non2xx + r.errors + r.timeouts;
  if (bad > 0) throw new Error(`${keyed ? 'keyed ' : ''}${method} on :${server.port}: ${bad} failed requests (${JSON.stringify(r.statusCodeStats)})`);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpuUs: cpu / r.requests.total };
}

async function main() {
  await ensureBundle();
  const database = await createTestDatabase('tasks_bench');
  const env = { DATABASE_URL: database.url, NODE_ENV: 'production' };
  const admin = new pg.Client({ connectionString: database.url });
  try {
    await new Promise<void>((resolve, reject) => {
      const m = spawn(process.execPath, [migrateBundle], { env: { PATH: process.env.PATH ?? '', ...env, LOG_LEVEL: 'warn' }, stdio: 'inherit' });
      m.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`migrate exited ${code}`))));
    });
    await admin.connect();
    const seed = async () => {
      await admin.query('TRUNCATE main_table RESTART IDENTITY');
      await admin.query("INSERT INTO main_table (task) SELECT 'Task number ' || g FROM generate_series(1, 100) g");
      await admin.query('VACUUM ANALYZE main_table');
    };

    const servers: Array<{ name: string; start: () => ReturnType<typeof spawnServer> }> = [
      { name: 'baseline (node:http + pg)', start: () => spawnServer(baselineScript, env) },
      { name: 'tasks API (dist/api/server.mjs)', start: () => spawnServer(serverBundle, env) },
    ];
    type Figures = Figure[];
    const results = servers.map(() => ({
      get: [] as Figures,
      post: [] as Figures,
      keyedPost: [] as Figures,
      keyedPatch: [] as Figures,
      keyedDelete: [] as Figures,
      expiry: [] as Array<{ storedPerMin: number; deleted: number; all: boolean }>,
      cold: [] as number[],
      rss: [] as number[],
    }));
    const API = 1;
    const postBody = JSON.stringify({ task: 'benchmark task' });

    // Cold start: spawn → first 200 on GET /api/tasks (connect included), alternating servers.
    await seed();
    for (let i = 0; i < COLD_RUNS; i++) {
      for (const [k, s] of servers.entries()) {
        const { child, port, startedAt } = await s.start();
        results[k]!.cold.push(await firstOk(port, startedAt));
        await new Promise((r) => setTimeout(r, 1000));
        results[k]!.rss.push(rssKb(child.pid!));
        await stop(child);
      }
    }
    console.log(`cold start done (${COLD_RUNS} runs each)`);

    // Throughput and latency at 64 connections, rounds alternating between the servers.
    for (let round = 0; round < ROUNDS; round++) {
      for (const [k, s] of servers.entries()) {
        const { child, port, startedAt } = await s.start();
        const server = { port, pid: child.pid! };
        const r = results[k]!;
        await firstOk(port, startedAt);
        await seed();
        await load(server, 'GET'); // warm-up, not counted
        r.get.push(await load(server, 'GET'));
        r.post.push(await load(server, 'POST', { body: postBody }));
        if (k === API) {
          // Keyed writes, a new key each time. Expired records wait in the table, so the process's
          // clean-up (its first tick comes with its first stored key) runs while the writes do.
          await admin.query('TRUNCATE idempotency_keys');
          await admin.query(
            `INSERT INTO idempotency_keys (key, fingerprint, status, body, created_at)
             SELECT 'expired-' || g, 'f', 201, '{}', now() - interval '25 hours' FROM generate_series(1, $1) g`,
            [EXPIRED_KEYS],
          );
          await admin.query('VACUUM ANALYZE idempotency_keys');
          r.keyedPost.push(await load(server, 'POST', { body: postBody, keyed: true }));
          let n = 0;
          r.keyedPatch.push(await load(server, 'PATCH', { body: '{"done":true}', keyed: true, path: () => `/api/tasks/${1 + (n++ % 100)}` }));
          // DELETE needs a row per request: ids from a fresh block, in order.
          const [{ first }] = (await admin.query<{ first: string }>('SELECT coalesce(max(id), 0) + 1 AS first FROM main_table')).rows as [{ first: string }];
          await admin.query("INSERT INTO main_table (task) SELECT 'to delete ' || g FROM generate_series(1, 200000) g");
          let next = Number(first);
          r.keyedDelete.push(await load(server, 'DELETE', { keyed: true, path: () => `/api/tasks/${next++}` }));
          const [{ left }] = (await admin.query<{ left: number }>("SELECT count(*)::int AS left FROM idempotency_keys WHERE key LIKE 'expired-%'")).rows as [{ left: number }];
          const keyedRps = (r.keyedPost.at(-1)!.rps + r.keyedPatch.at(-1)!.rps + r.keyedDelete.at(-1)!.rps) / 3;
          // The process lived less than a minute: one clean-up tick, which is what a minute deletes.
          r.expiry.push({ storedPerMin: keyedRps * 60, deleted: EXPIRED_KEYS - left, all: left === 0 });
        }
        await stop(child);
      }
      console.log(`round ${round + 1}/${ROUNDS} done`);
    }

    // The API image: start → first 200 next to the bare bundle, when it can be measured here.
    const imageUnavailable = await imageStartUnavailable();
    let image: ImageStart | undefined;
    if (!imageUnavailable) {
      await seed();
      image = await measureImageStart({ databaseUrl: database.url, runs: COLD_RUNS });
      console.log(`image start done (${COLD_RUNS} runs each)`);
    }

    const med = (xs: Figures, f: keyof Figure) => median(xs.map((x) => x[f]));
    const [base, api] = results.map((r) => ({
      getRps: med(r.get, 'rps'),
      getP50: med(r.get, 'p50'),
      getP99: med(r.get, 'p99'),
      getCpu: med(r.get, 'cpuUs'),
      postRps: med(r.post, 'rps'),
      postP50: med(r.post, 'p50'),
      postP99: med(r.post, 'p99'),
      postCpu: med(r.post, 'cpuUs'),
      cold: median(r.cold),
      rss: median(r.rss) / 1024,
    })) as unknown as [Record<string, number>, Record<string, number>];
    const apiResults = results[API]!;

    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    // Targets: the cold start and write paths of a bare server (see the README's Measured section).
    const verdict = (value: number, op: '≥' | '≤', target: number) => `${op} ${target.toFixed(2)}× ${(op === '≥' ? value >= target : value <= target) ? 'met' : 'NOT met'}`;
    const imageRow = image
      ? ['API image: start → first 200 (ms; reference: the bare bundle on the host)', image.bare.toFixed(0), image.start.toFixed(0), `${ratio(image.start, image.bare)}×`, verdict(image.start / image.bare, '≤', 1.2)]
      : ['API image: start → first 200 (ms; reference: the bare bundle on the host)', '', '', `not measured (${imageUnavailable}; run npm run images as root)`, '≤ 1.20×'];
    // A keyed write is measured against the baseline's plain POST: exactly-once should cost at most a fifth.
    const keyedRows = (['POST', 'PATCH', 'DELETE'] as const).flatMap((method) => {
      const xs = apiResults[`keyed${method[0]}${method.slice(1).toLowerCase()}` as 'keyedPost' | 'keyedPatch' | 'keyedDelete'];
      const rps = med(xs, 'rps');
      return [
        [`${method} with a new Idempotency-Key (req/s; reference: the baseline's plain POST)`, base.postRps.toFixed(0), rps.toFixed(0), `${ratio(rps, base.postRps)}×`, verdict(rps / base.postRps, '≥', 0.8)],
        [`${method} with a new Idempotency-Key: p50 / p99 (ms); CPU per request (µs)`, `${base.postP50} / ${base.postP99}; ${base.postCpu.toFixed(0)}`, `${med(xs, 'p50')} / ${med(xs, 'p99')}; ${med(xs, 'cpuUs').toFixed(0)}`, `${ratio(med(xs, 'cpuUs'), base.postCpu)}× (CPU)`, ''],
      ];
    });
    const stored = median(apiResults.expiry.map((e) => e.storedPerMin));
    const deleted = median(apiResults.expiry.map((e) => e.deleted));
    const allDeleted = apiResults.expiry.every((e) => e.all);
    const rows = [
      ['GET /api/tasks throughput (req/s)', base.getRps.toFixed(0), api.getRps.toFixed(0), `${ratio(api.getRps, base.getRps)}×`, verdict(api.getRps / base.getRps, '≥', 1.0)],
      ['GET /api/tasks latency p50 / p99 (ms)', `${base.getP50} / ${base.getP99}`, `${api.getP50} / ${api.getP99}`, `${ratio(api.getP99, base.getP99)}× (p99)`, ''],
      ['GET /api/tasks CPU per request (µs)', base.getCpu.toFixed(0), api.getCpu.toFixed(0), `${ratio(api.getCpu, base.getCpu)}×`, ''],
      ['POST /api/tasks throughput (req/s)', base.postRps.toFixed(0), api.postRps.toFixed(0), `${ratio(api.postRps, base.postRps)}×`, verdict(api.postRps / base.postRps, '≥', 0.95)],
      ['POST /api/tasks latency p50 / p99 (ms)', `${base.postP50} / ${base.postP99}`, `${api.postP50} / ${api.postP99}`, `${ratio(api.postP99, base.postP99)}× (p99)`, ''],
      ['POST /api/tasks CPU per request (µs)', base.postCpu.toFixed(0), api.postCpu.toFixed(0), `${ratio(api.postCpu, base.postCpu)}×`, ''],
      ...keyedRows,
      [
        `Idempotency-Key records per minute: stored at the keyed load / expired ones deleted by the minute's clean-up (of ${EXPIRED_KEYS} waiting)`,
        '',
        `${stored.toFixed(0)} / ${allDeleted ? '≥ ' : ''}${deleted.toFixed(0)}`,
        '',
        `deleted ≥ stored ${deleted >= stored ? 'met' : 'NOT met'}`,
      ],
      ['cold start: spawn → first 200 (ms)', base.cold.toFixed(0), api.cold.toFixed(0), `${ratio(api.cold, base.cold)}×`, verdict(api.cold / base.cold, '≤', 1.1)],
      imageRow,
      ['idle RSS after one request (MiB)', base.rss.toFixed(1), api.rss.toFixed(1), `${ratio(api.rss, base.rss)}×`, ''],
    ];
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const header = `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, PostgreSQL on 127.0.0.1 with 100 tasks. ` +
      `${CONNECTIONS} connections (autocannon), ${ROUNDS} rounds × ${DURATION} s per figure after a warm-up, cold start over ${COLD_RUNS} runs (the image's too, alternating with the bare bundle); every figure is the median.`;
    const table = [
      '| figure | baseline | tasks API | ratio | target |',
      '| --- | ---: | ---: | ---: | --- |',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');

    let capacity = '';
    if (existsSync(new URL('./capacity.ts', import.meta.url)) && process.env.BENCH_CAPACITY !== '0') {
      const mod = (await import('./capacity')) as { runCapacity?: (opts: Record<string, unknown>) => Promise<{ markdown?: string } | string> };
      if (mod.runCapacity) {
        const out = await mod.runCapacity({ databaseUrl: database.url });
        capacity = typeof out === 'string' ? out : (out.markdown ?? '');
      }
    }

    const md = `# Benchmark results\n\n${header}\n\n${table}\n${capacity ? `\n## Capacity per pod\n\n${capacity}\n` : ''}\nRun \`npm run bench\` to measure again (\`BENCH_ROUNDS\`, \`BENCH_SECONDS\`, \`BENCH_COLD_RUNS\` change the effort).\n`;
    console.log(`\n${header}\n\n${table}\n${capacity ? `\n${capacity}\n` : ''}`);
    if (SAVE) {
      // The image section (bench/image-start.ts's, between its markers): this run's when measured, else the previous one.
      const previous = existsSync(new URL('./results.md', import.meta.url)) ? readFileSync(new URL('./results.md', import.meta.url), 'utf8') : '';
      const images = image ? await imageSection(image) : imagesSectionOf(previous);
      writeFileSync(new URL('./results.md', import.meta.url), images ? `${md}\n${images}\n` : md);
      console.log('written to bench/results.md');
    } else {
      console.log('not saved (npm run bench -- --save writes bench/results.md)');
    }
  } finally {
    await admin.end().catch(() => undefined);
    await database.drop();
  }
}

await main();
