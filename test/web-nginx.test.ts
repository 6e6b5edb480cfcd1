import { spawnSync } from 'node:child_process';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './support/api';
import { buildWeb, entrypoint, startNginx, tempDir, type RunningNginx } from './support/nginx';

/** A stand-in API that records what nginx sends it; `fail(n)` answers the next n requests with 502. */
function fakeApi(port: number) {
  const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  let failures = 0;
  let server: Server | undefined;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    if (failures > 0) {
      req.resume();
      failures--;
      res.writeHead(502, { 'Content-Type': 'text/plain' }).end('activator: no healthy upstream');
      return;
    }
    if (req.url === '/api/big') {
      // Far larger than nginx's proxy buffers: with a slow reader it spills to the proxy temp folder.
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ filler: 'x'.repeat(BIG) }));
      return;
    }
    let size = 0;
    req.on('data', (chunk: Buffer) => (size += chunk.length));
    req.on('end', () =>
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ success: true, method: req.method, url: req.url, size })),
    );
  };
  return {
    seen,
    fail(n: number) {
      failures = n;
    },
    up: () => new Promise<void>((resolve) => (server = createServer(handler).listen(port, '127.0.0.1', () => resolve()))),
    down: () => new Promise<void>((resolve) => (server ? (server.closeAllConnections(), server.close(() => resolve())) : resolve())),
  };
}

const scratch = tempDir('tasks-nginx-test-');
let dist: string;
let api: ReturnType<typeof fakeApi>;
let nginx: RunningNginx;
let apiPort: number;
const tricky = { API_URL: '/api", "featureEditTask": false, "x": "\\', APP_VERSION: 'v1 "quoted" \\ back\nslash\t' };

beforeAll(async () => {
  dist = await buildWeb(join(scratch, 'dist'));
  apiPort = await freePort();
  api = fakeApi(apiPort);
  await api.up();
  writeFileSync(join(scratch, 'token'), 's3cr3t-token_value\n');
  nginx = await startNginx({
    htmlDir: dist,
    apiUpstream: `http://127.0.0.1:${apiPort}`,
    env: { ...tricky, FEATURE_DELETE_TASK: 'false', INTERNAL_TOKEN_FILE: join(scratch, 'token') },
  });
});

afterAll(async () => {
  await nginx?.stop();
  await api?.down();
  rmSync(scratch, { recursive: true, force: true });
});

const get = (path: string, init?: RequestInit) => fetch(nginx.url + path, init);
const BIG = 8 << 20;

/** fetch() decompresses on its own; this sees the bytes on the wire, optionally reading late. */
const rawGet = (path: string, headers: Record<string, string>, readAfterMs = 0) =>
  new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    request(nginx.url + path, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.pause();
      setTimeout(() => res.resume(), readAfterMs);
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
const asset = (ext: string) => `/assets/${readdirSync(join(dist, 'assets')).find((f) => f.endsWith(ext))}`;

describe('nginx serving the SPA', () => {
  it('sends the security headers on pages, assets, config and API errors', async () => {
    for (const path of ['/', '/index.html', asset('.js'), '/config.json', '/favicon.svg', '/api/tasks', '/nope/deep/link']) {
      const res = await get(path);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'self'");
      expect(csp, path).toContain("script-src 'self';");
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).not.toContain('unsafe-inline');
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), path).toBe('strict-origin-when-cross-origin');
      expect(res.headers.get('permissions-policy'), path).toContain('camera=()');
      expect(res.headers.get('server'), path).toBe('nginx'); // no version
    }
  });

  it('caches hashed assets for a year and never caches index.html or config.json', async () => {
    for (const path of [asset('.js'), asset('.css')]) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('cache-control'), path).toBe('public, max-age=31536000, immutable');
    }
    for (const path of ['/', '/index.html', '/config.json', '/some/page']) {
      expect((await get(path)).headers.get('cache-control'), path).toBe('no-store');
    }
    const missing = await get('/assets/index-00000000.js');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('cache-control')).toBeNull();
  });

  it('answers any other path with index.html (SPA fallback)', async () => {
    const index = await (await get('/')).text();
    expect(index).toContain('<div id="app">');
    for (const path of ['/tasks/42', '/done?x=1', '/a/b/c']) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe('text/html; charset=utf-8');
      expect(await res.text(), path).toBe(index);
    }
  });

  it('gzips text types', async () => {
    for (const path of [asset('.js'), asset('.css'), '/']) {
      const plain = Buffer.from(await (await get(path)).arrayBuffer());
      const res = await rawGet(path, { 'Accept-Encoding': 'gzip' });
      expect(res.headers['content-encoding'], path).toBe('gzip');
      expect(res.headers.vary, path).toContain('Accept-Encoding');
      expect(res.body.length, path).toBeLessThan(plain.length);
      expect(gunzipSync(res.body).equals(plain), path).toBe(true);
      // The build's Zopfli file, sent as it is (gzip_static), and it unzips to the built file.
      const file = join(dist, path === '/' ? 'index.html' : path);
      expect(res.body.equals(readFileSync(`${file}.gz`)), path).toBe(true);
      expect(plain.equals(readFileSync(file)), path).toBe(true);
    }
  });

  it('writes config.json with proper JSON escaping: no key can be injected', async () => {
    const res = await get('/config.json');
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual({
      apiUrl: tricky.API_URL,
      featureEditTask: true,
      featureDeleteTask: false,
      appVersion: tricky.APP_VERSION,
      apiSleeps: true,
      embeddedDatabase: false,
    });
  });

  it("answers /healthz and /readyz for its own probes as the API's bodies do, JSON, whatever the API's state", async () => {
    // The API behind this nginx is down here: the probes report nginx only.
    await api.down();
    try {
      for (const [path, body] of [['/healthz', { status: 'ok' }], ['/readyz', { status: 'ready' }]] as const) {
        const res = await get(path);
        expect([path, res.status, res.headers.get('content-type'), await res.json()]).toEqual([path, 200, 'application/json; charset=utf-8', body]);
      }
      expect((await get('/api/tasks')).status).toBe(502);
    } finally {
      await api.up();
    }
  });
});

describe('nginx proxying /api/', () => {
  it('passes the path and query, sends the upstream host and the internal token', async () => {
    api.seen.length = 0;
    const res = await get('/api/tasks?cursor=5', { headers: { 'X-Internal-Token': 'forged' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ method: 'GET', url: '/api/tasks?cursor=5' });
    const [req] = api.seen;
    expect(req!.headers.host).toBe(`127.0.0.1:${apiPort}`);
    expect(req!.headers['x-internal-token']).toBe('s3cr3t-token_value');
    expect(req!.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
  });

  it('buffers large bodies in its temp folders, whichever user its workers run as', async () => {
    const big = await rawGet('/api/big', {}, 500);
    expect(big.status).toBe(200);
    expect((JSON.parse(big.body.toString()) as { filler: string }).filler).toHaveLength(BIG);
    const body = JSON.stringify({ task: 'y'.repeat(40_000) }); // over client_body_buffer_size, under the 64k limit
    // Keyed: nginx buffers those whole to be able to retry them (a write without a key streams).
    const upload = await get('/api/tasks', { method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': '"big-upload"' }, body });
    expect(await upload.json()).toMatchObject({ method: 'POST', size: body.length });
    const tooBig = await get('/api/tasks', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: 'z'.repeat(70_000) });
    expect(tooBig.status).toBe(413);
    // nginx notes each spill in its log: proof the temp folders were used, and writable.
    expect(nginx.errorLog()).toContain('an upstream response is buffered to a temporary file');
    expect(nginx.errorLog()).toContain('a client request body is buffered to a temporary file');
    expect(nginx.errorLog()).not.toContain('Permission denied');
  });

  it('retries a read while the API answers 502, but never a write', async () => {
    api.seen.length = 0;
    api.fail(2);
    const read = await get('/api/tasks');
    expect(read.status).toBe(200);
    expect(api.seen.map((r) => r.method)).toEqual(['GET', 'GET', 'GET']);

    api.seen.length = 0;
    api.fail(1);
    const write = await get('/api/tasks', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"task":"x"}' });
    expect(write.status).toBe(502);
    expect(api.seen.map((r) => r.method)).toEqual(['POST']);
  });

  it('retries a write that carries an Idempotency-Key, passing the key on every try', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      api.seen.length = 0;
      api.fail(2);
      const key = `"${method}-8e03978e-40d5-43e8-bc93-6894a57f9324"`;
      const body = method === 'DELETE' ? undefined : '{"task":"x"}';
      const res = await get(method === 'POST' ? '/api/tasks' : '/api/tasks/1', { method, headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key }, body });
      expect(res.status, method).toBe(200);
      expect(api.seen.map((r) => r.method), method).toEqual([method, method, method]);
      expect(api.seen.map((r) => r.headers['idempotency-key']), method).toEqual([key, key, key]);
    }
    // An empty header is no key: not retried.
    api.seen.length = 0;
    api.fail(1);
    const empty = await get('/api/tasks', { method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': '' }, body: '{"task":"x"}' });
    expect(empty.status).toBe(502);
    expect(api.seen).toHaveLength(1);
  });

  it('gives a JSON 502 while the API is down, and recovers when it returns', async () => {
    await api.down();
    try {
      for (const method of ['GET', 'POST', 'DELETE']) {
        const res = await get('/api/tasks/1', { method });
        expect(res.status, method).toBe(502);
        expect(res.headers.get('content-type'), method).toContain('application/json');
        expect(await res.json(), method).toEqual({
          success: false,
          message: 'The API is not available right now. Try again in a moment.',
          code: 'api_unavailable',
        });
      }
      expect(nginx.errorLog()).toContain('Connection refused');
    } finally {
      await api.up();
    }
    expect((await get('/api/tasks')).status).toBe(200);
  });

  it('gives a JSON 504 when the API does not answer in time, after at most three tries of a read', async () => {
    const port = await freePort();
    const sockets = new Set<Socket>();
    // Accepts connections and never answers, like a pod stuck before its first response.
    const silent = createTcpServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    const slow = await startNginx({ htmlDir: dist, apiUpstream: `http://127.0.0.1:${port}`, env: { API_TIMEOUT: '1', REQUEST_TIMEOUT_MS: '500' } });
    try {
      const read = await fetch(`${slow.url}/api/tasks`);
      expect(read.status).toBe(504);
      expect(await read.json()).toEqual({
        success: false,
        message: 'The API took too long to answer. Try again in a moment.',
        code: 'api_timeout',
      });
      expect(sockets.size).toBe(3);

      const write = await fetch(`${slow.url}/api/tasks`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"task":"x"}' });
      expect(write.status).toBe(504);
      expect(sockets.size).toBe(4);

      // A keyed write is tried again after a timeout, like a read.
      const keyed = await fetch(`${slow.url}/api/tasks`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': '"a-timed-out-write"' },
        body: '{"task":"x"}',
      });
      expect(keyed.status).toBe(504);
      expect((await keyed.json()).code).toBe('api_timeout');
      expect(sockets.size).toBe(7);
    } finally {
      await slow.stop();
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });

  it('drops a browser-sent X-Internal-Token when no token file is configured', async () => {
    const bare = await startNginx({ htmlDir: dist, apiUpstream: `http://127.0.0.1:${apiPort}` });
    try {
      api.seen.length = 0;
      expect((await fetch(`${bare.url}/api/`, { headers: { 'X-Internal-Token': 'forged' } })).status).toBe(200);
      expect(api.seen[0]!.headers['x-internal-token']).toBeUndefined();
    } finally {
      await bare.stop();
    }
  });
});

describe('nginx as an unprivileged user', () => {
  it('runs without root, as in the image, with no user directive', async () => {
    const plain = await startNginx({ htmlDir: dist, apiUpstream: `http://127.0.0.1:${apiPort}`, unprivileged: true });
    try {
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${plain.pid}/status`, 'utf8'))![1];
      expect(Number(uid)).not.toBe(0);
      expect(readFileSync(join(plain.dir, 'nginx.conf'), 'utf8')).not.toMatch(/^user /m);
      expect((await fetch(`${plain.url}/`)).status).toBe(200);
      expect(await (await fetch(`${plain.url}/config.json`)).json()).toMatchObject({ apiUrl: '/api' });
      expect((await fetch(`${plain.url}/api/tasks`)).status).toBe(200);
      // Started as root (as in CI), the same script drops the workers to "nobody".
      if (process.getuid?.() === 0) expect(readFileSync(join(nginx.dir, 'nginx.conf'), 'utf8')).toMatch(/^user nobody /m);
    } finally {
      await plain.stop();
    }
  });
});

describe('entrypoint input checks', () => {
  const run = (env: Record<string, string>) =>
    spawnSync('sh', [entrypoint], {
      env: { PATH: process.env.PATH ?? '', HTML_DIR: dist, RUNTIME_DIR: join(scratch, 'refused'), ...env },
      encoding: 'utf8',
    });

  it.each([
    [{ API_UPSTREAM: 'http://api;evil' }, 'API_UPSTREAM must be http://host[:port]'],
    [{ API_UPSTREAM: 'https://api.example.com' }, 'API_UPSTREAM must start with http://'],
    [{ FEATURE_EDIT_TASK: 'maybe' }, 'FEATURE_EDIT_TASK must be one of true, false, 1, 0, yes, no, on, off (any case)'],
    [{ PORT: '80; include /etc/passwd' }, 'PORT must be a whole number from 1 to 65535'],
    [{ API_TIMEOUT: '5s' }, 'API_TIMEOUT must be a whole number of seconds'],
    // Too many digits for sh's arithmetic: refused before it, never exit 2 or an overflowed number.
    [{ API_TIMEOUT: '12345678901234567890' }, "API_TIMEOUT must be a whole number of seconds from 1 to 999999, in digits without a leading zero, got '12345678901234567890'"],
    [{ API_TIMEOUT: '1234567890123456' }, "API_TIMEOUT must be a whole number of seconds from 1 to 999999, in digits without a leading zero, got '1234567890123456'"],
    [{ API_TIMEOUT: '1000000' }, 'API_TIMEOUT must be a whole number of seconds from 1 to 999999'],
    [{ CLIENT_TIMEOUT: '12345678901234567890' }, 'CLIENT_TIMEOUT must be a whole number of seconds from 1 to 999999'],
    [{ CLIENT_TIMEOUT: '1234567890123456' }, 'CLIENT_TIMEOUT must be a whole number of seconds from 1 to 999999'],
    [{ REQUEST_TIMEOUT_MS: '12345678901234567890' }, 'REQUEST_TIMEOUT_MS must be a whole number of milliseconds from 1 to 999999999'],
    [{ WORKER_CONNECTIONS: '12345678901234567890' }, 'WORKER_CONNECTIONS must be a whole number from 512 to 9999999'],
    [{ PORT: '12345678901234567890' }, "PORT must be a whole number from 1 to 65535, in digits without a leading zero, got '12345678901234567890'"],
    // One form for every number (the API's too: WHOLE_NUMBER in functions/api/env.ts): a leading zero is refused everywhere.
    [{ PORT: '080' }, "PORT must be a whole number from 1 to 65535, in digits without a leading zero, got '080'"],
    [{ PORT: '0' }, "PORT must be a whole number from 1 to 65535"],
    [{ PORT: '65536' }, "PORT must be a whole number from 1 to 65535"],
    [{ API_TIMEOUT: '08' }, "API_TIMEOUT must be a whole number of seconds from 1 to 999999, in digits without a leading zero, got '08'"],
    [{ REQUEST_TIMEOUT_MS: '015000' }, "REQUEST_TIMEOUT_MS must be a whole number of milliseconds from 1 to 999999999, in digits without a leading zero, got '015000'"],
    [{ CLIENT_TIMEOUT: '060' }, "CLIENT_TIMEOUT must be a whole number of seconds from 1 to 999999, in digits without a leading zero, got '060'"],
    [{ WORKER_CONNECTIONS: '08192' }, "WORKER_CONNECTIONS must be a whole number from 512 to 9999999, in digits without a leading zero, got '08192'"],
    [{ INTERNAL_TOKEN_FILE: join(scratch, 'token'), INTERNAL_TOKEN_WATCH_SECONDS: '05' }, "INTERNAL_TOKEN_WATCH_SECONDS must be a whole number of seconds from 1 to 86400, in digits without a leading zero, got '05'"],
    [{ HTML_DIR: '/nonexistent' }, 'has no index.html'],
    [{ INTERNAL_TOKEN_FILE: '/nonexistent/token' }, 'INTERNAL_TOKEN_FILE (/nonexistent/token) cannot be read'],
    // nginx's timeout must stay above the API's own budget, or an unkeyed write commits behind its 504.
    [{ API_TIMEOUT: '2' }, "API_TIMEOUT (2 s) must be above the API's REQUEST_TIMEOUT_MS (15000 ms)"],
    [{ API_TIMEOUT: '15', REQUEST_TIMEOUT_MS: '15000' }, "API_TIMEOUT (15 s) must be above the API's REQUEST_TIMEOUT_MS (15000 ms)"],
    [{ API_TIMEOUT: '30', REQUEST_TIMEOUT_MS: '40000' }, "API_TIMEOUT (30 s) must be above the API's REQUEST_TIMEOUT_MS (40000 ms)"],
    [{ REQUEST_TIMEOUT_MS: '15s' }, 'REQUEST_TIMEOUT_MS must be a whole number of milliseconds'],
    // A stalled body of a write without a key is the API's 408 at its budget: nginx must not close first.
    [{ CLIENT_TIMEOUT: '10' }, "CLIENT_TIMEOUT (10 s) must be above the API's REQUEST_TIMEOUT_MS (15000 ms)"],
    [{ CLIENT_TIMEOUT: '15', REQUEST_TIMEOUT_MS: '15000' }, "CLIENT_TIMEOUT (15 s) must be above the API's REQUEST_TIMEOUT_MS (15000 ms)"],
    [{ API_TIMEOUT: '50', CLIENT_TIMEOUT: '30', REQUEST_TIMEOUT_MS: '40000' }, "CLIENT_TIMEOUT (30 s) must be above the API's REQUEST_TIMEOUT_MS (40000 ms)"],
    [{ WORKER_CONNECTIONS: '100' }, "WORKER_CONNECTIONS must be a whole number from 512 to 9999999, in digits without a leading zero, got '100'"],
    [{ API_UPSTREAM: 'http://tasks-api.backend.svc.cluster.local', RESOLV_CONF: '/nonexistent/resolv.conf' }, 'API_UPSTREAM names a host (tasks-api.backend.svc.cluster.local) but no resolver was found'],
    [{ RESOLVER: '10.0.0.10; include /etc/passwd' }, 'RESOLVER must be addresses'],
  ])('rejects %j with a message naming the variable', (env, message) => {
    const result = run(env);
    expect(result.status).toBe(78);
    expect(result.stderr).toContain(message);
  });

  it('starts with an API_TIMEOUT and a CLIENT_TIMEOUT above the API budget it is given', () => {
    // Exit 0 is not possible here (nginx would run); a rendered nginx.conf shows the checks passed.
    const dir = join(scratch, 'accepted');
    const result = spawnSync('sh', ['-c', `${JSON.stringify(entrypoint)} & pid=$!; sleep 0.5; kill $pid 2>/dev/null; wait $pid`], {
      env: { PATH: `${process.env.PATH ?? ''}:/usr/sbin`, HTML_DIR: dist, RUNTIME_DIR: dir, API_TIMEOUT: '16', CLIENT_TIMEOUT: '16', REQUEST_TIMEOUT_MS: '15000', PORT: '1', LISTEN_HOST: '127.0.0.1' },
      encoding: 'utf8',
    });
    expect(result.stderr).not.toContain('entrypoint:');
    expect(readFileSync(join(dir, 'nginx.conf'), 'utf8')).toContain('proxy_read_timeout 16s;');
    expect(readFileSync(join(dir, 'nginx.conf'), 'utf8')).toContain('client_body_timeout 16s;');
  });

  it('refuses more connections than the hard file-descriptor limit allows, naming both numbers', () => {
    const result = spawnSync('sh', ['-c', `ulimit -Sn 4000 && ulimit -Hn 4000 && exec sh ${JSON.stringify(entrypoint)}`], {
      env: { PATH: process.env.PATH ?? '', HTML_DIR: dist, RUNTIME_DIR: join(scratch, 'refused'), WORKER_CONNECTIONS: '4096' },
      encoding: 'utf8',
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('WORKER_CONNECTIONS (4096) needs 8192 file descriptors, above the hard limit (4000)');
  });

  it('reads the resolver from resolv.conf, IPv6 addresses in brackets', () => {
    const dir = join(scratch, 'resolver');
    const resolv = join(scratch, 'resolv.conf');
    writeFileSync(resolv, 'search backend.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\nnameserver fd00::a\noptions ndots:5\n');
    const result = spawnSync('sh', ['-c', `${JSON.stringify(entrypoint)} & pid=$!; sleep 0.5; kill $pid 2>/dev/null; wait $pid`], {
      env: { PATH: `${process.env.PATH ?? ''}:/usr/sbin`, HTML_DIR: dist, RUNTIME_DIR: dir, RESOLV_CONF: resolv, API_UPSTREAM: 'http://tasks-api.backend.svc.cluster.local', PORT: '1', LISTEN_HOST: '127.0.0.1' },
      encoding: 'utf8',
    });
    expect(result.stderr).not.toContain('entrypoint:');
    expect(readFileSync(join(dir, 'nginx.conf'), 'utf8')).toContain('resolver 10.96.0.10 [fd00::a] valid=5s;');
  });
});
