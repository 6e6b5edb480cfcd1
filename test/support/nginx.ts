import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './api';

const root = fileURLToPath(new URL('../..', import.meta.url));
const confDir = join(root, 'web/nginx');
export const entrypoint = join(confDir, 'entrypoint.sh');

/** The nginx binary as the entrypoint finds it (PATH, else /usr/sbin/nginx), or undefined. */
export function nginxPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8', env: { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined;
}

/** True when every folder from / down to `path` lets other users pass (the x bit for "others"). */
function othersCanEnter(path: string): boolean {
  for (let dir = path; ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dir === dirname(dir)) return true;
  }
}

/**
 * A fresh temp folder that nginx's workers (user nobody when the tests run as root) can enter:
 * under the temp directory, or under /tmp when that one is private (TMPDIR in a home directory).
 */
export function tempDir(prefix: string): string {
  const base = othersCanEnter(tmpdir()) ? tmpdir() : '/tmp';
  const dir = mkdtempSync(join(base, prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * Builds the SPA into `outDir` (a folder of the calling test's own), so parallel test files never
 * share a half-written dist.
 */
export function buildWeb(outDir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const vite = join(root, 'node_modules/vite/bin/vite.js');
    const child = spawn(process.execPath, [vite, 'build', '--config', 'web/vite.config.ts', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: root,
      // vitest sets NODE_ENV=test, which would give a development build of Vue.
      env: { ...process.env, NODE_ENV: 'production', VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(outDir) : reject(new Error(`vite build failed (${code}):\n${output}`))));
  });
}

/** World-readable whatever the umask was, for workers running as "nobody". */
function readable(path: string) {
  if (statSync(path).isDirectory()) {
    chmodSync(path, 0o755);
    for (const name of readdirSync(path)) readable(join(path, name));
  } else {
    chmodSync(path, 0o644);
  }
}

export interface RunningNginx {
  url: string;
  port: number;
  pid: number;
  /** The prefix folder: rendered nginx.conf, config.json, logs. */
  dir: string;
  errorLog(): string;
  accessLog(): string;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** The built SPA; copied so the workers can read it whoever owns the checkout. */
  htmlDir: string;
  apiUpstream?: string;
  /** Extra environment for the entrypoint: API_URL, FEATURE_*, APP_VERSION, INTERNAL_TOKEN_FILE… */
  env?: Record<string, string>;
  /** Run as "nobody" (uid 65534), as the image runs as its own unprivileged user. Only matters as root. */
  unprivileged?: boolean;
}

const NOBODY = 65534;
const asNobody = (opts: NginxOptions) => opts.unprivileged === true && process.getuid?.() === 0;

/**
 * Runs web/nginx/entrypoint.sh (the image's own start script) with the real nginx on a free port,
 * everything under a temp prefix, and waits until /healthz answers.
 */
export async function startNginx(opts: NginxOptions): Promise<RunningNginx> {
  const dir = tempDir('tasks-nginx-');
  const html = join(dir, 'html');
  cpSync(opts.htmlDir, html, { recursive: true });
  readable(html);
  // The entrypoint and its templates too, as the image has them in its own folder: a checkout inside
  // a folder only its owner may enter (a home directory) is out of reach of the unprivileged user.
  cpSync(confDir, join(dir, 'conf'), { recursive: true });
  readable(join(dir, 'conf'));
  if (asNobody(opts)) chownSync(dir, NOBODY, NOBODY);
  // Another process may grab the free port before nginx binds it: try again on a new one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(dir, html, opts);
    } catch (err) {
      if (attempt >= 3 || !/Address already in use/.test(String(err))) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

async function launch(dir: string, html: string, opts: NginxOptions): Promise<RunningNginx> {
  const port = await freePort();
  const run = join(dir, `run-${port}`);
  const env = {
    PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`,
    PORT: String(port),
    LISTEN_HOST: '127.0.0.1',
    API_UPSTREAM: opts.apiUpstream ?? 'http://127.0.0.1:9',
    HTML_DIR: html,
    RUNTIME_DIR: run,
    ERROR_LOG: join(run, 'error.log'),
    ACCESS_LOG: join(run, 'access.log'),
    ...opts.env,
  };
  const user = asNobody(opts) ? { uid: NOBODY, gid: NOBODY } : {};
  const child = spawn('sh', [join(dir, 'conf', 'entrypoint.sh')], { env, stdio: ['ignore', 'pipe', 'pipe'], ...user });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const read = (file: string) => (existsSync(join(run, file)) ? readFileSync(join(run, file), 'utf8') : '');
  const url = `http://127.0.0.1:${port}`;
  const nginx: RunningNginx = {
    url,
    port,
    pid: child.pid!,
    dir: run,
    errorLog: () => read('error.log'),
    accessLog: () => read('access.log'),
    async stop() {
      // The entrypoint execs nginx, so this PID is the nginx master; SIGQUIT = graceful shutdown.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}:\n${output}${nginx.errorLog()}`);
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) return nginx;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not answer /healthz within 10 s:\n${output}${nginx.errorLog()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
