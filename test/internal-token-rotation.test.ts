import { CreateSecretCommand, GetSecretValueCommand, RotateSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { spawnSync } from 'node:child_process';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRotationHandler } from '../functions/rotate-secrets/handler';
import { ensurePreviousVersion, TOKEN_PATTERN } from '../functions/rotate-secrets/token-steps';
import { ensureBundle, migrateBundle, startApi, type RunningApi } from './support/api';
import { KubeletSecretVolume } from './support/kubelet-secret-volume';
import { buildWeb, startNginx, tempDir, type RunningNginx } from './support/nginx';
import { createTestDatabase, type TestDatabase } from './support/postgres';
import { SecretsManagerDouble } from './support/secrets-manager-double';

/*
 * Internal token rotation end to end, with nothing restarted:
 * Secrets Manager (local stand-in, real SDK) runs the rotation function → "ESO" reads AWSCURRENT and
 * AWSPREVIOUS into the backend's and the frontend's Secret (kubelet-style volumes, updated one
 * namespace at a time, in both orders) → the real nginx follows its file through token-watch.sh →
 * a stand-in for the Knative gateway spreads requests over several bundled API processes, started
 * before, between and after every step. Steady load through nginx the whole time.
 */

const WATCH_SECONDS = 1;
const CLIENTS = 12;
const NEVER_ISSUED = 'neverIssued0neverIssued0neverIssued0';

const scratch = tempDir('tasks-token-rotation-');
let dist: string;

beforeAll(async () => {
  [dist] = await Promise.all([buildWeb(join(scratch, 'dist')), ensureBundle()]);
}, 120_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * Stands in for Kourier + the activator: forwards each request to the next API process (round
 * robin over the ones started so far), or answers 200 itself when there is none. Remembers the last
 * X-Internal-Token nginx sent.
 */
async function startGateway() {
  const backends: string[] = [];
  const gateway = { backends, lastToken: undefined as string | undefined, forwarded: 0, errors: [] as string[], url: '', close: async () => {} };
  let next = 0;
  const server: Server = createServer((req, res) => {
    const header = req.headers['x-internal-token'];
    gateway.lastToken = typeof header === 'string' ? header : undefined;
    const target = backends.length > 0 ? backends[next++ % backends.length] : undefined;
    if (!target) {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}'));
      return;
    }
    gateway.forwarded++;
    // A fresh connection per request: the point here is the token, not connection reuse.
    const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => {
      gateway.errors.push(error.message);
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end('{"success":false,"code":"gateway_error"}');
    });
    req.pipe(upstream);
  });
  // Longer than nginx's upstream keepalive_timeout (60 s): nginx, not this server, closes idle connections.
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  gateway.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  gateway.close = () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())));
  return gateway;
}

/**
 * One HTTP/1.1 request on a keep-alive agent, as a browser sends it. A request that went out on a
 * reused connection which the server closed before any answer (ECONNRESET, "socket hang up") is
 * sent once more, as browsers do and Node's docs recommend (`request.reusedSocket`), and counted:
 * nginx's graceful reload closes the old worker's idle keep-alive connections without reading
 * what a client may have just sent on them.
 */
function send(agent: Agent, url: string, method: string, body: string | undefined, resent: () => void): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method, agent, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
      res.on('error', reject);
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (!answered && req.reusedSocket && (error.code === 'ECONNRESET' || error.message === 'socket hang up')) {
        resent();
        // A moment later, as a browser's resend lands: by then the old worker has stopped accepting.
        setTimeout(() => send(agent, url, method, body, resent).then(resolve, reject), 50);
      } else reject(Object.assign(error, { detail: `reused=${req.reusedSocket} answered=${answered} code=${error.code}` }));
    });
    req.end(body);
  });
}

/** Steady load through nginx; every outcome is counted. */
function startLoad(url: string, clients: number, paths: () => { method: string; path: string; body?: string }[]) {
  const tally = { requests: 0, ok: 0, unauthorized: 0, failed: 0, resent: 0, failures: [] as string[] };
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  let running = true;
  const one = async (n: number) => {
    for (let i = 0; running; i++) {
      for (const { method, path, body } of paths()) {
        try {
          const res = await send(agent, `${url}${path}`, method, body?.replace('$N', `${n}-${i}`), () => tally.resent++);
          tally.requests++;
          if (res.status === 401) tally.unauthorized++;
          if (res.status >= 200 && res.status < 300) tally.ok++;
          else {
            tally.failed++;
            tally.failures.push(`${method} ${path} ${res.status} ${res.text.slice(0, 120)}`);
          }
        } catch (error) {
          tally.requests++;
          tally.failed++;
          tally.failures.push(`${method} ${path} network error: ${(error as Error).message} ${(error as { detail?: string }).detail}`);
        }
      }
    }
  };
  const done = Promise.all(Array.from({ length: clients }, (_, n) => one(n)));
  return {
    tally,
    stop: async () => {
      running = false;
      await done;
      agent.destroy();
    },
  };
}

async function eventually(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<number> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - started;
}

describe('nginx follows the mounted token', () => {
  let volume: KubeletSecretVolume;
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  let nginx: RunningNginx;
  afterAll(async () => {
    await nginx?.stop();
    await gateway?.close();
    volume?.remove();
  });

  it(`sends the new token after its next ${WATCH_SECONDS} s check and a graceful reload, with no restart and no failed request`, async () => {
    const A = 'tokenA0000000000000000000000000000';
    const B = 'tokenB1111111111111111111111111111';
    const C = 'tokenC2222222222222222222222222222';
    volume = KubeletSecretVolume.create({ token: A });
    gateway = await startGateway();
    nginx = await startNginx({
      htmlDir: dist,
      apiUpstream: gateway.url,
      env: { INTERNAL_TOKEN_FILE: join(volume.dir, 'token'), INTERNAL_TOKEN_WATCH_SECONDS: String(WATCH_SECONDS) },
    });
    const load = startLoad(nginx.url, 8, () => [{ method: 'GET', path: '/api/tasks' }, { method: 'POST', path: '/api/tasks', body: '{"task":"t $N"}' }]);
    const pickups: number[] = [];
    try {
      await eventually('first request', () => gateway.lastToken !== undefined);
      expect(gateway.lastToken).toBe(A);

      let t = Date.now();
      volume.update({ token: B, previous: A });
      await eventually('nginx sends B, A', () => gateway.lastToken === `${B}, ${A}`);
      pickups.push(Date.now() - t);

      // A value nginx could not send safely: it keeps the last good header and says why.
      volume.update({ token: 'not a "token"', previous: B });
      await new Promise((r) => setTimeout(r, (WATCH_SECONDS + 1.5) * 1000));
      expect(gateway.lastToken).toBe(`${B}, ${A}`);

      t = Date.now();
      volume.update({ token: C, previous: B });
      await eventually('nginx sends C, B', () => gateway.lastToken === `${C}, ${B}`);
      pickups.push(Date.now() - t);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await load.stop();
    }
    console.log(
      `nginx token pick-up: ${pickups.map((ms) => `${ms} ms`).join(', ')} (watch every ${WATCH_SECONDS} s); ` +
        `${load.tally.requests} requests, ${load.tally.failed} failed, ${load.tally.unauthorized} 401, ` +
        `${load.tally.resent} resent after a reload closed an idle keep-alive connection`,
    );
    // Pick-up times are printed, not asserted (a busy machine stretches them): the `eventually` waits
    // above are the check, with a bound only against a hang.
    expect(load.tally.failures.slice(0, 5)).toEqual([]);
    expect(load.tally.requests).toBeGreaterThan(0);
    // Same master process throughout: reloaded, never restarted.
    expect(() => process.kill(nginx.pid, 0)).not.toThrow();
    expect(nginx.errorLog()).not.toMatch(/\[(emerg|alert|crit)\]/);
  }, 60_000);
});

describe('internal token rotation: two rotations, both delivery orders, API processes started at every step', () => {
  const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:tasks-rotate-secrets';
  let sm: SecretsManagerDouble;
  let client: SecretsManagerClient;
  let db: TestDatabase;
  let backend: KubeletSecretVolume;
  let frontend: KubeletSecretVolume;
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  let nginx: RunningNginx;
  const apis: RunningApi[] = [];

  beforeAll(async () => {
    sm = await SecretsManagerDouble.start();
    client = sm.client();
    sm.registerRotationFunction(FUNCTION_ARN, createRotationHandler({ client, log: () => {} }));
    db = await createTestDatabase('tasks_token_rotation');
    const migrated = spawnSync(process.execPath, [migrateBundle], { env: { PATH: process.env.PATH ?? '', DATABASE_URL: db.url, LOG_LEVEL: 'warn' }, encoding: 'utf8' });
    if (migrated.status !== 0) throw new Error(`migrate failed: ${migrated.stderr}${migrated.stdout}`);
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    await Promise.all(apis.map((a) => a.stop()));
    await gateway?.close();
    backend?.remove();
    frontend?.remove();
    await db?.drop();
    await sm?.close();
  });

  it('answers every request: 0 responses 401, 0 failed; a token never issued is refused at every step', async () => {
    // secrets:bootstrap: a random token, and an AWSPREVIOUS stage so ESO can read `previous` from the start.
    const { ARN: secretId } = await client.send(
      new CreateSecretCommand({ Name: 'tasks/test/internal-token', SecretString: JSON.stringify({ token: 'Bootstrap0token0Bootstrap0token0ab' }) }),
    );
    expect(await ensurePreviousVersion(client, secretId!)).toBe(true);
    expect(await ensurePreviousVersion(client, secretId!)).toBe(false);

    const stage = async (s: 'AWSCURRENT' | 'AWSPREVIOUS') =>
      (JSON.parse((await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: s }))).SecretString!) as { token: string }).token;
    /** What the ExternalSecret writes: AWSCURRENT as `token`, AWSPREVIOUS as `previous`. */
    const eso = async () => ({ token: await stage('AWSCURRENT'), previous: await stage('AWSPREVIOUS') });

    const initial = await eso();
    backend = KubeletSecretVolume.create(initial);
    frontend = KubeletSecretVolume.create(initial);
    gateway = await startGateway();

    const started = Date.now();
    let load: ReturnType<typeof startLoad> | undefined;
    const timeline: string[] = [];
    const mark = (what: string) => timeline.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${what} (${load?.tally.requests ?? 0} requests so far)`);

    const startOne = async (when: string) => {
      const api = await startApi({
        env: { DB_DRIVER: 'pg', DATABASE_URL: db.url, DB_POOL_MAX: '3', INTERNAL_TOKEN_FILE: join(backend.dir, 'token'), LOG_LEVEL: 'warn' },
      });
      apis.push(api);
      gateway.backends.push(api.url);
      mark(`API process ${apis.length} started ${when}`);
    };
    const asks = (api: RunningApi, header: string) => fetch(`${api.url}/api/`, { headers: { 'x-internal-token': header } }).then((r) => r.status);
    /** Prometheus (PodMonitor `authorization`) sends the backend Secret's `token` key as a bearer token. */
    const scrape = (api: RunningApi, headers: Record<string, string> = {}) => fetch(`${api.url}/metrics`, { headers }).then((r) => r.status);
    /**
     * At every step: a token that was never issued is refused by every API process, on /api and on
     * /metrics, and /metrics answers nothing without a token; the token the API's own Secret holds is scraped.
     */
    const neverIssuedRefused = async () => {
      for (const api of apis) {
        expect(await asks(api, NEVER_ISSUED)).toBe(401);
        expect(await asks(api, `${NEVER_ISSUED}, ${NEVER_ISSUED.toLowerCase()}`)).toBe(401);
        expect(await scrape(api)).toBe(401);
        expect(await scrape(api, { authorization: `Bearer ${NEVER_ISSUED}` })).toBe(401);
        expect(await scrape(api, { authorization: `Bearer ${readFileSync(join(backend.dir, 'token'), 'utf8').trim()}` })).toBe(200);
      }
    };

    await startOne('before the first rotation');
    nginx = await startNginx({
      htmlDir: dist,
      apiUpstream: gateway.url,
      env: { INTERNAL_TOKEN_FILE: join(frontend.dir, 'token'), INTERNAL_TOKEN_WATCH_SECONDS: String(WATCH_SECONDS) },
    });
    await startOne('before the first rotation, nginx up');
    load = startLoad(nginx.url, CLIENTS, () => [
      { method: 'GET', path: '/api/tasks?limit=5' },
      { method: 'POST', path: '/api/tasks', body: '{"task":"rotation $N"}' },
    ]);
    await new Promise((r) => setTimeout(r, 500));
    await neverIssuedRefused();
    mark('load running');

    const issued = [initial.token];
    try {
      for (const order of [['backend', 'frontend'], ['frontend', 'backend']] as const) {
        const before = await eso();
        const { VersionId } = await client.send(new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: FUNCTION_ARN }));
        const run = sm.rotations.find((r) => r.versionId === VersionId)!;
        await run.done;
        expect(run.error).toBeUndefined();
        const after = await eso();
        expect(after.token).toMatch(TOKEN_PATTERN);
        expect(issued).not.toContain(after.token);
        expect(after.previous).toBe(before.token);
        issued.push(after.token);
        mark(`rotated in Secrets Manager; ESO will update ${order[0]} first`);
        await neverIssuedRefused();
        await startOne('after the rotation, before ESO delivered it');

        for (const tier of order) {
          if (tier === 'backend') {
            backend.update(after);
            const ms = await eventually('every API accepts the new token', async () => (await Promise.all(apis.map((a) => asks(a, after.token)))).every((s) => s === 200));
            mark(`backend Secret updated; every API process accepts the new token after ${ms} ms`);
          } else {
            if (order[0] === 'frontend') {
              // Why nginx sends both tokens: the new one alone is refused by an API still on the old Secret.
              expect(await asks(apis[0]!, after.token)).toBe(401);
            }
            frontend.update(after);
            const ms = await eventually('nginx sends the new pair', () => gateway.lastToken === `${after.token}, ${after.previous}`);
            mark(`frontend Secret updated; nginx sends the new pair after ${ms} ms`);
          }
          await neverIssuedRefused();
          await startOne(`after the ${tier} update`);
          // The process that just started accepts the pair nginx sends now, and refuses what was never issued.
          expect(await asks(apis.at(-1)!, gateway.lastToken!)).toBe(200);
          await new Promise((r) => setTimeout(r, 300));
        }
      }
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await load.stop();
    }
    mark('load stopped');
    await neverIssuedRefused();

    const { tally } = load;
    console.log(
      `internal token rotation: ${tally.requests} requests through nginx from ${CLIENTS} clients, ${tally.ok} answered 2xx, ` +
        `${tally.unauthorized} answered 401, ${tally.failed} failed, ${tally.resent} resent after a reload closed an idle keep-alive connection; ` +
        `${apis.length} API processes, ${gateway.forwarded} requests forwarded\n  ` +
        timeline.join('\n  '),
    );
    expect(tally.unauthorized).toBe(0);
    expect(tally.failures.slice(0, 5), `${tally.failed} failed requests, first five`).toEqual([]);
    expect(gateway.errors).toEqual([]);
    expect(tally.requests).toBeGreaterThan(CLIENTS);
    // Secret values never reach a log.
    for (const api of apis) for (const token of issued) expect(api.logs()).not.toContain(token);
    expect(nginx.errorLog() + nginx.accessLog()).not.toContain(issued[1]);
  }, 180_000);
});
