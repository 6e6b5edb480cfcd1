// The commands behave alike, run as a new user runs them (child processes): a bad command line
// exits 2 everywhere, a missing AWS region or credentials is one line naming what to set, and a
// load run against a closed port counts one error per request it tried to send.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from './support/fake-kube-api';

// Node 20 is below the supported range; its runtime notices are not what is tested here.
const quiet = { NODE_NO_WARNINGS: '1' };
const run = (script: string, args: string[], env: Record<string, string | undefined> = {}) =>
  runCommand(script, args, { env: { ...quiet, ...env }, timeoutMs: 50_000 });

/** Someone with no AWS set-up at all: no AWS variables, no ~/.aws (runCommand gives a fresh HOME), no instance role. */
const withoutAws = () => ({
  ...Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('AWS_')).map((k) => [k, undefined])),
  AWS_EC2_METADATA_DISABLED: 'true',
});

describe('usage errors', () => {
  const cases: [string, string[]][] = [
    ['scripts/deploy.ts', ['--env', 'staging', '--dry-run']],
    ['scripts/deploy.ts', ['--nope']],
    ['scripts/render.ts', ['--nope']],
    ['scripts/doctor.ts', ['--env', 'staging']],
    ['scripts/watch-autoscaling.ts', ['--nope']],
    ['scripts/load.ts', ['--url', 'ftp://example']],
    ['scripts/rotate.ts', ['--nope']],
    ['scripts/secrets-bootstrap.ts', ['--rotation-days', 'many', '--env', 'dev']],
    ['bench/capacity.ts', ['--nope']],
    ['scripts/preview-nginx.ts', ['--nope']],
    ['scripts/build-functions.ts', ['--nope']],
    ['scripts/policies.ts', ['--nope']],
    ['scripts/images.ts', ['--nope']],
    ['scripts/ops/capture.ts', ['--nope']],
    ['scripts/reset.ts', ['--nope']],
    // Before, these three ignored their arguments: migrate migrated, start started, bench ran.
    ['functions/api/migrate.ts', ['--nope']],
    ['scripts/start.ts', ['--nope']],
    ['bench/run.ts', ['--nope']],
  ];

  it.each(cases)('%s %j exits 2 with a message on stderr', async (script, args) => {
    const r = await run(script, args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().length).toBeGreaterThan(0);
  });
});

describe('npm run bench with BENCH_ONLY=cold-start', () => {
  it('refuses another value and --save (exit 2, a message on stderr)', async () => {
    const [other, save] = await Promise.all([
      run('bench/run.ts', [], { BENCH_ONLY: 'get' }),
      run('bench/run.ts', ['--save'], { BENCH_ONLY: 'cold-start' }),
    ]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('BENCH_ONLY must be cold-start');
    expect(save.code).toBe(2);
    expect(save.stderr).toContain('--save needs the full run');
  });

  it('measures only the cold start of bare Hono and the API, without and with a compile cache, and prints their ratios', async () => {
    const r = await run('bench/run.ts', [], { BENCH_ONLY: 'cold-start', BENCH_COLD_RUNS: '1', BENCH_NODE24: '0' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Node v\S+ \(host\), load average [\d.]+ → [\d.]+, 1 runs each:$/m);
    expect(r.stdout).toMatch(/^ {2}no compile cache: bare Hono [\d.]+ ms, tasks API [\d.]+ ms, [\d.]+× \(target ≤ 1\.10×\)$/m);
    // Node 20 has no compile cache; from Node 22.1 on, both servers are measured with one too.
    expect(r.stdout).toMatch(/^ {2}compile cache(: not in this Node|, as in the image: bare Hono [\d.]+ ms, tasks API [\d.]+ ms, [\d.]+× \(target ≤ 1\.10×\))$/m);
    expect(r.stdout).not.toContain('GET /api/tasks');
  });
});

describe('npm run bench with BENCH_ONLY=keyed', () => {
  it('refuses --save (exit 2, a message on stderr)', async () => {
    const save = await run('bench/run.ts', ['--save'], { BENCH_ONLY: 'keyed' });
    expect(save.code).toBe(2);
    expect(save.stderr).toContain('--save needs the full run');
  });

  it("measures only the baseline's plain POST and the API's writes, with the server's and PostgreSQL's CPU per request", async () => {
    // Seven loads of a second and 300,000 rows made for the writes that need a task each: more than run()'s 50 s on a busy machine.
    const r = await runCommand('bench/run.ts', [], { env: { ...quiet, BENCH_ONLY: 'keyed', BENCH_ROUNDS: '1', BENCH_SECONDS: '1', BENCH_EXPIRED_KEYS: '100', BENCH_NODE24: '0' }, timeoutMs: 170_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Node v\S+ \(host\), load average [\d.]+ → [\d.]+, 1 rounds × 1 s, medians:$/m);
    const figures = '\\d+ req/s, [\\d.]+× the baseline\'s POST; CPU per request: server \\d+ µs, PostgreSQL \\d+ µs \\(req/s per round: \\d+\\)';
    for (const what of ['baseline plain POST', 'API POST without a key', 'API POST with a new Idempotency-Key', 'API DELETE with a new Idempotency-Key and If-Match']) {
      expect(r.stdout).toMatch(new RegExp(`^ {2}${what}: ${figures}$`, 'm'));
    }
    expect(r.stdout).not.toContain('cold start');
  }, 180_000);
});

describe('--help', () => {
  const commands = [
    'scripts/deploy.ts',
    'scripts/render.ts',
    'scripts/doctor.ts',
    'scripts/watch-autoscaling.ts',
    'scripts/load.ts',
    'scripts/rotate.ts',
    'scripts/secrets-bootstrap.ts',
    'scripts/policies.ts',
    'scripts/preview-nginx.ts',
    'scripts/images.ts',
    'scripts/ops/capture.ts',
    'bench/capacity.ts',
    'functions/api/migrate.ts',
    'scripts/start.ts',
    'bench/run.ts',
  ];

  it.each(commands)('%s --help prints its usage on stdout and exits 0, doing nothing else', async (script) => {
    const r = await run(script, ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/usage/i);
    expect(r.stderr).toBe('');
  });
});

describe('AWS set-up problems', () => {
  it('a missing region is one line naming the flag and the variable', async () => {
    const r = await run('scripts/rotate.ts', ['--secret-id', 'tasks/dev/db-app', '--yes'], withoutAws());
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('rotate: no AWS region: pass --region <region> or set AWS_REGION\n');
  });

  it('missing credentials are one line naming the variables, in rotate and secrets:bootstrap', async () => {
    const local = 'http://127.0.0.1:9'; // never reached: the SDK stops before sending
    const [rotate, bootstrap] = await Promise.all([
      run('scripts/rotate.ts', ['--secret-id', 'tasks/dev/db-app', '--region', 'eu-central-1', '--endpoint', local, '--yes'], withoutAws()),
      run('scripts/secrets-bootstrap.ts', ['--env', 'dev', '--endpoint', local, '--yes'], withoutAws()),
    ]);
    const line = 'no AWS credentials: set AWS_PROFILE (after `aws sso login` or `aws configure`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n';
    expect(rotate.code).toBe(1);
    expect(rotate.stderr).toBe(`rotate: ${line}`);
    expect(bootstrap.code).toBe(1);
    expect(bootstrap.stderr).toBe(`secrets:bootstrap: ${line}`);
  });
});

describe('no cluster configured', () => {
  it('deploy, doctor and watch:scale say so with what to do, never "connection refused" from localhost:8080', async () => {
    const [deploy, doctor, watch] = await Promise.all([
      run('scripts/deploy.ts', ['--env', 'dev']),
      run('scripts/doctor.ts', ['--env', 'dev']),
      run('scripts/watch-autoscaling.ts', ['--env', 'dev', '--once']),
    ]);
    for (const [name, r] of [['deploy', deploy], ['doctor', doctor], ['watch:scale', watch]] as const) {
      expect(r.stderr, name).toContain('no cluster configured: no KUBECONFIG, no ~/.kube/config and not running in a pod. Point KUBECONFIG at your cluster');
      expect(`${r.stdout}${r.stderr}`, name).not.toContain('localhost:8080');
      expect(r.code, name).toBe(3);
    }
  });

  // Before, deploy fell through to kubectl (localhost:8080 refused) on both, and doctor printed a
  // leaked TypeError ("reading 'clusters'") for an empty kubeconfig.
  it.each([
    ['a KUBECONFIG file that does not exist', '/nonexistent/config', 'no cluster configured: KUBECONFIG names /nonexistent/config, which does not exist.'],
    ['an empty kubeconfig', '/dev/null', 'no cluster configured: the kubeconfig /dev/null is empty.'],
  ])('%s: deploy, doctor and watch:scale say no cluster is configured, naming the file (exit 3)', async (_what, kubeconfig, line) => {
    const env = { KUBECONFIG: kubeconfig };
    const [deploy, doctor, watch] = await Promise.all([
      run('scripts/deploy.ts', ['--env', 'dev'], env),
      run('scripts/doctor.ts', ['--env', 'dev'], env),
      run('scripts/watch-autoscaling.ts', ['--env', 'dev', '--once'], env),
    ]);
    for (const [name, r] of [['deploy', deploy], ['doctor', doctor], ['watch:scale', watch]] as const) {
      expect(r.stderr, name).toContain(`${name}: ${line} Point KUBECONFIG at your cluster`);
      expect(`${r.stdout}${r.stderr}`, name).not.toMatch(/localhost:8080|TypeError|Cannot read properties/);
      expect(r.code, name).toBe(3);
    }
  });
});

describe('npm run load against a closed port', () => {
  it('counts one connection error per request it tried to send', async () => {
    // A port that was just free: connections to it are refused.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const r = await run('scripts/load.ts', ['--url', `http://127.0.0.1:${port}/api/tasks`, '--rps', '10', '--duration', '2s', '--json']);
    expect(r.code).toBe(1);
    const summary = JSON.parse(r.stdout) as { requests: number; errors: number; durationS: number };
    expect(summary.requests).toBe(0);
    // At most 10 requests a second for the run's own duration; never thousands. No minimum: a busy
    // machine may send fewer than 20 in 2 s, and what is counted is what was tried.
    expect(summary.errors).toBeGreaterThan(0);
    expect(summary.errors).toBeLessThanOrEqual(10 * Math.ceil(summary.durationS + 1));
  });
});

describe('npm run reset', () => {
  /** A folder holding a PGlite directory (PG_VERSION is what marks one), its lock and a leftover. */
  function localData(lockPid?: number) {
    const parent = mkdtempSync(join(tmpdir(), 'tasks-reset-'));
    const dir = join(parent, 'pglite');
    mkdirSync(join(dir, 'base'), { recursive: true });
    writeFileSync(join(dir, 'PG_VERSION'), '17\n');
    mkdirSync(join(parent, '.pglite.creating'));
    if (lockPid !== undefined) writeFileSync(`${dir}.lock`, JSON.stringify({ pid: lockPid, host: hostname() }));
    return { parent, dir };
  }

  it('--yes deletes the directory, its lock and any leftover, and says what it deleted', async () => {
    const { parent, dir } = localData(2 ** 22 + 1); // a stale lock: no such process
    try {
      const r = await run('scripts/reset.ts', ['--yes'], { PGLITE_DIR: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`reset: deleted ${dir}, ${dir}.lock, ${join(parent, '.pglite.creating')}; the next npm start creates a new, empty database\n`);
      expect(readdirSync(parent)).toEqual([]);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('without a terminal and without --yes deletes nothing (exit 2)', async () => {
    const { parent, dir } = localData();
    try {
      const r = await run('scripts/reset.ts', [], { PGLITE_DIR: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('reset: not a terminal, so nothing was deleted: run npm run reset -- --yes to delete without asking\n');
      expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('refuses a directory a live process holds, and one that is not a PGlite directory (exit 1)', async () => {
    const held = localData(process.pid);
    const foreign = mkdtempSync(join(tmpdir(), 'tasks-reset-foreign-'));
    writeFileSync(join(foreign, 'notes.txt'), 'mine');
    try {
      const [inUse, notPglite, nothing] = await Promise.all([
        run('scripts/reset.ts', ['--yes'], { PGLITE_DIR: held.dir }),
        run('scripts/reset.ts', ['--yes'], { PGLITE_DIR: foreign }),
        run('scripts/reset.ts', ['--yes'], { PGLITE_DIR: join(foreign, 'absent') }),
      ]);
      expect(inUse.code).toBe(1);
      expect(inUse.stderr).toBe(`reset: ${held.dir} is in use by process ${process.pid}: stop it (Ctrl+C in its terminal), then run npm run reset again\n`);
      expect(existsSync(join(held.dir, 'PG_VERSION'))).toBe(true);
      expect(notPglite.code).toBe(1);
      expect(notPglite.stderr).toBe(`reset: ${foreign} is not a PGlite data directory (no PG_VERSION; it holds notes.txt): not deleting it; check PGLITE_DIR\n`);
      expect(readdirSync(foreign)).toEqual(['notes.txt']);
      expect(nothing.code).toBe(0);
      expect(nothing.stdout).toContain('nothing to delete');
    } finally {
      rmSync(held.parent, { recursive: true, force: true });
      rmSync(foreign, { recursive: true, force: true });
    }
  });

  // Before, both were deleted: a regular file, and a live PostgreSQL server's data directory.
  it('refuses a regular file and a PostgreSQL server\'s data directory, deleting nothing (exit 1)', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'tasks-reset-not-pglite-'));
    const file = join(parent, 'file.txt');
    writeFileSync(file, 'mine');
    const server = join(parent, 'main');
    mkdirSync(join(server, 'global'), { recursive: true });
    writeFileSync(join(server, 'PG_VERSION'), '15\n');
    writeFileSync(join(server, 'global', 'pg_control'), Buffer.alloc(8192));
    writeFileSync(join(server, 'postmaster.pid'), `${process.pid}\n${server}\n1796643473\n5432\n/var/run/postgresql\n127.0.0.1\n  1433715         4\nready   \n`);
    const stopped = join(parent, 'stopped');
    mkdirSync(join(stopped, 'global'), { recursive: true });
    writeFileSync(join(stopped, 'PG_VERSION'), '15\n');
    writeFileSync(join(stopped, 'postmaster.opts'), '/usr/lib/postgresql/15/bin/postgres "-D" "/var/lib/postgresql/15/main"\n');
    try {
      const [onFile, onServer, onStopped] = await Promise.all([file, server, stopped].map((dir) => run('scripts/reset.ts', ['--yes'], { PGLITE_DIR: dir })));
      expect(onFile.code, onFile.stdout).toBe(1);
      expect(onFile.stderr).toBe(`reset: ${file} is not a PGlite data directory (not a directory): not deleting it; check PGLITE_DIR\n`);
      expect(onServer.code, onServer.stdout).toBe(1);
      expect(onServer.stderr).toBe(`reset: ${server} is not a PGlite data directory (a PostgreSQL server's: postmaster.pid of process ${process.pid}): not deleting it; check PGLITE_DIR\n`);
      expect(onStopped.code, onStopped.stdout).toBe(1);
      expect(onStopped.stderr).toBe(`reset: ${stopped} is not a PGlite data directory (a PostgreSQL server's: postmaster.opts): not deleting it; check PGLITE_DIR\n`);
      expect(readdirSync(parent).sort()).toEqual(['file.txt', 'main', 'stopped']);
      expect(readdirSync(server).sort()).toEqual(['PG_VERSION', 'global', 'postmaster.pid']);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('deletes a PGlite directory a process left behind when it was killed (PGlite\'s own postmaster.pid)', async () => {
    const { parent, dir } = localData();
    writeFileSync(join(dir, 'postmaster.pid'), '-42\n/pglite/data\n1796647248\n5432\n\n\n       20         1\n');
    try {
      const r = await run('scripts/reset.ts', ['--yes'], { PGLITE_DIR: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(dir)).toBe(false);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
