/**
 * How long `npm start` takes to serve tasks: spawn → first 200 from GET /api/tasks, on a new PGlite
 * directory (the first start: the directory is made from the migrated seed) and on the one that run
 * left (every later start), next to a bare `node:http` server started the same way (the baseline:
 * what Node itself costs on this machine at this moment). The three alternate; each figure is the
 * median of `--runs`. `--save` writes them as the `local-start` section of bench/results.md
 * (results-sections.ts), which the README links to.
 *
 *   npx tsx bench/local-start.ts [--runs 5] [--save]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitCode, runCommandLine, UsageError } from '../scripts/ops/cli';
import { freePort } from '../test/support/api';
import { sectionMarkers, withSection } from './results-sections';

const root = fileURLToPath(new URL('..', import.meta.url));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The baseline: a bare node:http server answering GET /api/tasks with an empty list. */
const BARE = `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end('{"success":true,"tasks":[]}'); }).listen(Number(process.env.PORT), '127.0.0.1');`;

/** Polls with fresh connections until GET /api/tasks answers 200; ms since `startedAt`. Rejects when the process exits first. */
async function firstOk(child: ChildProcess, port: number, startedAt: bigint): Promise<number> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before answering 200`);
    const status = await new Promise<number>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/tasks', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });
    if (status === 200) return Number(process.hrtime.bigint() - startedAt) / 1e6;
    await new Promise((r) => setTimeout(r, 5));
  }
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

/** One start: spawn → first 200 (ms), then a clean stop. `args` after node; `env` added to a user's PATH and HOME. */
export async function timeStart(args: string[], env: Record<string, string> = {}): Promise<number> {
  const port = await freePort();
  const startedAt = process.hrtime.bigint();
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: 'ignore',
  });
  try {
    return await firstOk(child, port, startedAt);
  } finally {
    await stop(child);
  }
}

export interface LocalStart {
  bare: number[];
  first: number[];
  second: number[];
}

/** `runs` rounds of: the bare server, `npm start` on a new directory, `npm start` on that directory again. */
export async function measureLocalStart(runs: number): Promise<LocalStart> {
  const npmStart = ['--import', 'tsx', 'scripts/start.ts'];
  const parent = mkdtempSync(join(tmpdir(), 'tasks-bench-start-'));
  const out: LocalStart = { bare: [], first: [], second: [] };
  try {
    // A warm-up: builds web/dist and the seed if they are missing, as npm install would have.
    await timeStart(npmStart, { PGLITE_DIR: join(parent, 'warm-up') });
    for (let i = 0; i < runs; i++) {
      const dir = join(parent, `run-${i}`);
      out.bare.push(await timeStart(['-e', BARE]));
      out.first.push(await timeStart(npmStart, { PGLITE_DIR: dir }));
      out.second.push(await timeStart(npmStart, { PGLITE_DIR: dir }));
    }
    return out;
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
}

const help = `usage: npx tsx bench/local-start.ts [--runs 5] [--save]

Times npm start (spawn → first 200 from GET /api/tasks) on a new PGlite directory and on an existing
one, next to a bare node:http server; medians of --runs alternating rounds.

  --save   write the table as the local-start section of bench/results.md
`;

runCommandLine({ name: 'bench/local-start', help, flags: { runs: { type: 'string', default: '5' }, save: { type: 'boolean' } } }, async (values) => {
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError(`--runs must be a positive whole number, got "${values.runs}"`);
  const loadAtStart = loadavg()[0]!;
  const r = await measureLocalStart(runs);
  const bare = median(r.bare);
  const row = (what: string, xs: number[]) => `| ${what} | ${(median(xs) / 1000).toFixed(2)} s | ${(median(xs) / bare).toFixed(1)}× |`;
  const { start, end } = sectionMarkers('local-start', 'npx tsx bench/local-start.ts --save');
  const section = [
    start,
    '## Local start (`npm start`)',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, load average ${loadAtStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}: spawn → first 200 from GET /api/tasks on PGlite, \`web/dist\` and the seed already prepared (as \`npm install\` leaves them), median of ${runs} alternating runs.`,
    '',
    '| start | spawn → first 200 | × bare node:http |',
    '| --- | ---: | ---: |',
    `| bare \`node:http\` server (the baseline) | ${(bare / 1000).toFixed(2)} s | 1.0× |`,
    row('first `npm start` (new data directory)', r.first),
    row('second `npm start` (existing data directory)', r.second),
    end,
  ].join('\n');
  if (values.save) {
    const results = new URL('./results.md', import.meta.url);
    writeFileSync(results, withSection(readFileSync(results, 'utf8'), 'local-start', section));
    console.log('written to bench/results.md');
  } else {
    console.log(`\n${section}\n\nnot saved (--save writes it into bench/results.md)`);
  }
  return exitCode.ok;
});
