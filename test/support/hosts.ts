import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { ContractHost, HeaderLines, StartHost } from '../contract/api-contract';
import { webDist } from '../../scripts/web-dist';
import { freePort, startApi } from './api';
import { startNginx } from './nginx';
import { createTestDatabase } from './postgres';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The environment a user's shell would give a host: no vitest variables (NODE_ENV=test, VITEST…). */
function userEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', ...extra };
}

/** Over HTTP with fetch; with node:http when a header is sent as several lines (fetch's Headers join them into one). */
export const over = (url: string): ContractHost['request'] => (method, path, body, headers = {}) =>
  Object.values(headers).some((v) => typeof v !== 'string')
    ? withHeaderLines(url + path, method, body, headers)
    : fetch(url + path, { method, body: body as BodyInit | undefined, headers, redirect: 'manual', ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit);

/** One request whose header lists node:http sends as one line per element; the answer read whole. */
function withHeaderLines(url: string, method: string, body: Uint8Array | ReadableStream<Uint8Array> | undefined, headers: HeaderLines): Promise<Response> {
  if (body instanceof ReadableStream) throw new Error('a streamed body with header lines is not supported here');
  return new Promise((resolve, reject) => {
    const lines = (body ? { ...headers, 'content-length': String(body.length) } : headers) as OutgoingHttpHeaders;
    const req = httpRequest(url, { method, headers: lines }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const answer = new Headers();
        for (const [name, value] of Object.entries(res.headers)) for (const v of [value ?? []].flat()) answer.append(name, v);
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode!, headers: answer }));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Polls `url` until it answers 200. Connection errors (refused, reset while the server comes up)
 * are expected and retried; the process exiting or the deadline passing fails with its output.
 */
export async function waitFor200(url: string, child: ChildProcess, output: () => string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode}) before ${url} answered 200:\n${output()}`);
    const status = await fetch(url, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last ${status}):\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs a host command (npm start, the Vite dev server) and stops it with SIGTERM. */
function runProcess(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The bundle (`node dist/api/server.mjs`) on a fresh database of the machine's PostgreSQL. */
export const bundleOnPostgres: StartHost = async (env) => {
  const database = await createTestDatabase();
  const api = await startApi({ env: { DB_DRIVER: 'pg', DATABASE_URL: database.url, MIGRATE_ON_START: 'true', LOG_LEVEL: 'warn', ...env } });
  return {
    request: over(api.url),
    url: api.url,
    async stop() {
      await api.stop();
      await database.drop();
    },
  };
};

/** Runs a command that serves the API on PORT (an in-memory PGlite) and waits until it is ready. */
async function processHost(args: string[], env: Record<string, string>): Promise<ContractHost & { url: string }> {
  const port = await freePort();
  const p = runProcess(args, userEnv({ PORT: String(port), PGLITE_DIR: 'memory://', ...env }));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor200(`${url}/readyz`, p.child, p.output);
  } catch (err) {
    await p.stop();
    throw err;
  }
  return { request: over(url), url, stop: p.stop };
}

/** `npm start` on an in-memory PGlite, with its URL (for a browser). */
export const npmStartWithUrl = (env: Record<string, string> = {}) => processHost(['--import', 'tsx', 'scripts/start.ts'], env);

/** `npm start` (scripts/start.ts, as the npm script runs it) on an in-memory PGlite. */
export const npmStart: StartHost = (env) => processHost(['--import', 'tsx', 'scripts/start.ts'], env);

/** `npm run dev` on an in-memory PGlite, with its URL (for a browser). */
export const npmRunDevWithUrl = (env: Record<string, string> = {}) =>
  processHost(['node_modules/vite/bin/vite.js', '--config', 'web/vite.config.ts', '--host', '127.0.0.1'], env);

/** `npm run dev` (Vite with the API functions) on an in-memory PGlite; the port comes from PORT only. */
export const npmRunDev: StartHost = (env) => processHost(['node_modules/vite/bin/vite.js', '--config', 'web/vite.config.ts', '--host', '127.0.0.1'], env);

/** `start` on a fresh database of the machine's PostgreSQL instead of PGlite (`npm start`, `npm run dev`). */
export const onPostgres =
  (start: StartHost): StartHost =>
  async (env) => {
    const database = await createTestDatabase();
    const host = await start({ DB_DRIVER: 'pg', DATABASE_URL: database.url, ...env }).catch(async (err) => {
      await database.drop();
      throw err;
    });
    return {
      ...host,
      async stop() {
        await host.stop();
        await database.drop();
      },
    };
  };

/** nginx (web/nginx/entrypoint.sh, as in the image) in front of the bundle on PostgreSQL. */
export const nginxInFrontOfBundle: StartHost = async (env) => {
  const database = await createTestDatabase();
  const api = await startApi({ env: { DB_DRIVER: 'pg', DATABASE_URL: database.url, MIGRATE_ON_START: 'true', LOG_LEVEL: 'warn', ...env } });
  const nginx = await startNginx({ htmlDir: webDist, apiUpstream: api.url }).catch(async (err) => {
    await api.stop();
    throw err;
  });
  return {
    request: over(nginx.url),
    url: nginx.url,
    async stop() {
      await nginx.stop();
      await api.stop();
      await database.drop();
    },
  };
};
