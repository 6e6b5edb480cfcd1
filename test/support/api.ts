import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { buildFunctions, isStale } from '../../scripts/build-functions';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const serverBundle = `${root}dist/api/server.mjs`;
export const migrateBundle = `${root}dist/api/migrate.mjs`;

let building: Promise<void> | undefined;
/** Builds the function bundles once per test process when they are missing or older than the sources. */
export function ensureBundle(): Promise<void> {
  return (building ??= isStale() ? buildFunctions() : Promise.resolve());
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface RunningApi {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Sends the signal (SIGTERM by default) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  logs(): string;
}

/**
 * Starts the bundled API (`node dist/api/server.mjs`) on a free port (or `port`) and waits until
 * /readyz answers 200. Defaults to an in-memory PGlite database.
 */
export async function startApi(
  opts: { env?: Record<string, string>; port?: number; readyTimeoutMs?: number; waitReady?: boolean } = {},
): Promise<RunningApi> {
  await ensureBundle();
  // A fixed port lets a test restart the API where a proxy already points.
  const port = opts.port ?? (await freePort());
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    DB_DRIVER: 'pglite',
    PGLITE_DIR: 'memory://',
    LOG_LEVEL: 'info',
    ...opts.env,
    PORT: String(port),
  };
  const child = spawn(process.execPath, [serverBundle], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;

  const api: RunningApi = {
    url,
    port,
    pid: child.pid!,
    child,
    logs: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };

  if (opts.waitReady === false) return api;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`API exited with ${child.exitCode} before it was ready:\n${output}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) return api;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await api.stop('SIGKILL');
      throw new Error(`API not ready after ${opts.readyTimeoutMs ?? 60_000} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
