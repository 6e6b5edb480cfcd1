import { chmodSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createServer, maxHeaderSize, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './support/api';
import { buildWeb, startNginx, tempDir, type RunningNginx } from './support/nginx';
import { rawRequest, type RawResponse } from './support/raw-http';

// Every answer nginx produces itself on /api, /healthz and /readyz is JSON in the API's error shape
// with a code from the error table (functions/api/README.md), in whichever phase nginx refuses the
// request: over raw sockets, since node:http would not send most of these requests.
const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(root, 'functions/api/README.md'), 'utf8');
const documented = new Set([...readme.matchAll(/^\| (\d{3}) `(\w+)` \|/gm)].map(([, status, code]) => `${status} ${code}`));

const scratch = tempDir('tasks-nginx-errors-');
let nginx: RunningNginx;
let upstream: Server;
let reached = 0;
/** The largest request head (request line and header lines, as Node counts them) the stand-in received. */
let largestHead = 0;

beforeAll(async () => {
  const dist = await buildWeb(join(scratch, 'dist'));
  const apiPort = await freePort();
  // A stand-in API that answers every request it gets with JSON: anything else on the wire is nginx's.
  upstream = createServer((req, res) => {
    reached++;
    let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`.length + 2;
    for (let i = 0; i < req.rawHeaders.length; i += 2) head += req.rawHeaders[i]!.length + 2 + req.rawHeaders[i + 1]!.length + 2;
    largestHead = Math.max(largestHead, head);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ success: true, url: req.url })));
  });
  await new Promise<void>((resolve) => upstream.listen(apiPort, '127.0.0.1', resolve));
  // CLIENT_TIMEOUT=1: a body that stops arriving ends in a second, not nginx's default minute (with
  // the API's budget below it, as the entrypoint requires; the stand-in has none).
  nginx = await startNginx({ htmlDir: dist, apiUpstream: `http://127.0.0.1:${apiPort}`, env: { CLIENT_TIMEOUT: '1', REQUEST_TIMEOUT_MS: '500' } });
});

afterAll(async () => {
  await nginx?.stop();
  upstream?.closeAllConnections();
  await new Promise((resolve) => upstream?.close(resolve));
  rmSync(scratch, { recursive: true, force: true });
});

const send = (request: string | Buffer) => rawRequest(nginx.port, request, 15_000);
const req = (line: string, headers: string[] = ['Host: localhost'], body = '') => `${line}\r\n${[...headers, 'Connection: close'].join('\r\n')}\r\n\r\n${body}`;

/** The API's error shape with a documented code, as JSON, with the security headers. */
function expectJsonError(res: RawResponse, status: number, code: string) {
  const text = res.body.toString('utf8');
  expect(res.status, text).toBe(status);
  expect(res.headers['content-type'], text).toMatch(/^application\/json/);
  const body = JSON.parse(text) as { success: boolean; message: string; code: string };
  expect(body).toMatchObject({ success: false, code });
  expect(body.message.length).toBeGreaterThan(0);
  expect(documented.has(`${status} ${code}`), `${status} ${code} is in the error table`).toBe(true);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['cache-control']).toBe('no-store');
}

describe("nginx's own answers on API paths", () => {
  const big = (n: number) => 'a'.repeat(n);
  it.each([
    ['a bad request line', req('GET /api/tasks HTTX/1.1'), 400, 'bad_request'],
    ['a space in the path', req('GET /api/ta sks HTTP/1.1'), 400, 'bad_request'],
    ['HTTP/1.1 without Host', req('GET /api/tasks HTTP/1.1', []), 400, 'bad_request'],
    ['two Host headers', req('GET /api/tasks HTTP/1.1', ['Host: a', 'Host: b']), 400, 'bad_request'],
    ['a Content-Length that is not a number', req('POST /api/tasks HTTP/1.1', ['Host: x', 'Content-Length: 1x'], '{'), 400, 'bad_request'],
    ['a broken chunked body', req('POST /api/tasks HTTP/1.1', ['Host: x', 'Transfer-Encoding: chunked'], 'zz\r\n{}\r\n0\r\n\r\n'), 400, 'bad_request'],
    ['TRACE', req('TRACE /api/tasks HTTP/1.1'), 405, 'method_not_allowed'],
    ['TRACE on /healthz', req('TRACE /healthz HTTP/1.1'), 405, 'method_not_allowed'],
    ['a body over 64 KiB', req('POST /api/tasks HTTP/1.1', ['Host: x', 'Content-Type: application/json', 'Content-Length: 70000'], big(70_000)), 413, 'payload_too_large'],
    ['a request line over 16 KiB', req(`GET /api/tasks?q=${big(17_000)} HTTP/1.1`), 414, 'uri_too_long'],
    ['a 70,000-byte URI (the API answers it 414 too)', req(`GET /api/tasks?q=${big(70_000)} HTTP/1.1`), 414, 'uri_too_long'],
    ['a header over 16 KiB', req('GET /api/tasks HTTP/1.1', ['Host: x', `X-Big: ${big(17_000)}`]), 431, 'header_too_large'],
    ['a cookie over 16 KiB on /readyz', req('GET /readyz HTTP/1.1', ['Host: x', `Cookie: a=${big(17_000)}`]), 431, 'header_too_large'],
    ['headers over 64 KiB in all', req('GET /api/tasks HTTP/1.1', ['Host: x', ...[1, 2, 3, 4, 5].map((i) => `X-Big-${i}: ${big(15_000)}`)]), 431, 'header_too_large'],
    ['an Expect other than 100-continue', req('POST /api/tasks HTTP/1.1', ['Host: x', 'Content-Type: application/json', 'Expect: teapot', 'Content-Length: 2'], '{}'), 417, 'expectation_failed'],
    ['an Expect other than 100-continue on /readyz', req('GET /readyz HTTP/1.1', ['Host: x', 'Expect: 101-switch']), 417, 'expectation_failed'],
    ['a Transfer-Encoding other than chunked', req('POST /api/tasks HTTP/1.1', ['Host: x', 'Transfer-Encoding: gzip'], '{}'), 501, 'not_implemented'],
    ['HTTP/2.0 in the request line', req('GET /api/tasks HTTP/2.0'), 505, 'http_version_not_supported'],
    ['HTTP/3 on /healthz', req('GET /healthz HTTP/3.0'), 505, 'http_version_not_supported'],
  ])('%s: JSON %i %s', async (_name, request, status, code) => {
    expectJsonError(await send(request), status, code);
  });

  // A keyed write is buffered whole so that nginx can try it again; one without a key streams its
  // body to the API, which answers 408 itself (test/request-edges.test.ts).
  it('a keyed write whose body stops arriving: JSON 408 request_timeout after CLIENT_TIMEOUT, and the API never sees it', async () => {
    const before = reached;
    for (const method of ['POST', 'PUT', 'PATCH']) {
      const res = await send(req(`${method} /api/tasks${method === 'POST' ? '' : '/1'} HTTP/1.1`, ['Host: x', 'Content-Type: application/json', 'Idempotency-Key: "k-1"', 'Content-Length: 20'], '{"task":'));
      expectJsonError(res, 408, 'request_timeout');
    }
    expect(reached).toBe(before); // the half body never reached the API
  });

  // The stalled-body marker is only for a hop that was reached: a hop never connected to is the
  // API being unavailable, not the client's slowness.
  it('a keyed write when the buffering hop cannot be reached at all: JSON 502 api_unavailable, not 408', async () => {
    const socket = join(nginx.dir, 'keyed.sock');
    renameSync(socket, `${socket}.away`);
    try {
      const before = reached;
      for (const [method, body] of [['POST', '{"task":"x"}'], ['PATCH', '{"done":true}'], ['POST', '{"task":']] as const) {
        const headers = ['Host: x', 'Content-Type: application/json', 'Idempotency-Key: "k-4"', `Content-Length: ${body === '{"task":' ? 20 : body.length}`];
        const res = await send(req(`${method} /api/tasks${method === 'POST' ? '' : '/1'} HTTP/1.1`, headers, body));
        expectJsonError(res, 502, 'api_unavailable');
      }
      expect(reached).toBe(before);
    } finally {
      renameSync(`${socket}.away`, socket);
    }
  });

  it('a keyed write whose body arrives whole still reaches the API once and gets its answer', async () => {
    const before = reached;
    const body = '{"task":"whole"}';
    const res = await send(req('POST /api/tasks HTTP/1.1', ['Host: x', 'Content-Type: application/json', 'Idempotency-Key: "k-3"', `Content-Length: ${body.length}`], body));
    expect([res.status, JSON.parse(res.body.toString())]).toEqual([200, { success: true, url: '/api/tasks' }]);
    expect(reached).toBe(before + 1);
  });

  it("nginx's own /healthz and /readyz: GET and HEAD only, any other method the API's JSON 405 with Allow: GET, HEAD", async () => {
    for (const path of ['/healthz', '/readyz', '/healthz?x=1']) {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
        const res = await send(req(`${method} ${path} HTTP/1.1`, ['Host: x', 'Content-Length: 0']));
        expectJsonError(res, 405, 'method_not_allowed');
        expect(res.headers.allow, `${method} ${path}`).toBe('GET, HEAD');
      }
      const get = await send(req(`GET ${path} HTTP/1.1`));
      expect([get.status, get.headers['content-type'], JSON.parse(get.body.toString())]).toEqual([200, 'application/json; charset=utf-8', path.startsWith('/healthz') ? { status: 'ok' } : { status: 'ready' }]);
      expect(get.headers.allow).toBeUndefined();
      expect((await send(req(`HEAD ${path} HTTP/1.1`))).status).toBe(200);
    }
    // TRACE, refused before any location, is still a 405 there.
    expectJsonError(await send(req('TRACE /readyz HTTP/1.1')), 405, 'method_not_allowed');
  });

  it('nginx failing itself (its body temp folder unwritable): JSON 500 internal_error with the request id', async () => {
    const temp = join(nginx.dir, 'client_body');
    chmodSync(temp, 0o000);
    try {
      // Over client_body_buffer_size (16k), under the 64k limit: nginx must write it to a temp file
      // (a keyed write: one without a key streams its body to the API).
      const body = JSON.stringify({ task: 'x'.repeat(40_000) });
      const res = await send(req('POST /api/tasks HTTP/1.1', ['Host: x', 'Content-Type: application/json', 'Idempotency-Key: "k-2"', `Content-Length: ${body.length}`], body));
      expectJsonError(res, 500, 'internal_error');
      expect(JSON.parse(res.body.toString()).message).toMatch(/request id is [0-9a-f]{32}$/);
    } finally {
      chmodSync(temp, 0o700);
    }
  });

  it("keeps nginx's HTML on the page's paths, where the page is the design", async () => {
    for (const request of [req('TRACE / HTTP/1.1'), req('TRACE /tasks/1 HTTP/1.1'), req('GET /index.html HTTP/1.1', ['Host: x', `X-Big: ${big(17_000)}`])]) {
      const res = await send(request);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
    }
    // Not a path nginx has to guess: /apiary is a page, /api?x and /api/ are the API.
    expect((await send(req('TRACE /apiary HTTP/1.1'))).headers['content-type']).toMatch(/^text\/html/);
    expectJsonError(await send(req('TRACE /api?x=1 HTTP/1.1')), 405, 'method_not_allowed');
    // A request line nginx could not read has no path: JSON, whatever path it seemed to name.
    expectJsonError(await send(req('GET /tasks/1 HTTP/2.0')), 505, 'http_version_not_supported');
  });
});

describe('header limits: nginx and the API agree', () => {
  it("nginx's head limit in all (its first buffer and one large one) is the API's 16 KiB (Node's http.maxHeaderSize, which the API runs with) less 1 KiB for the headers nginx adds", () => {
    const template = readFileSync(join(root, 'web/nginx/nginx.conf.template'), 'utf8');
    const [, first] = /client_header_buffer_size (\d+)k;/.exec(template)!;
    const [, count, kib] = /large_client_header_buffers (\d+) (\d+)k;/.exec(template)!;
    expect(Number(count)).toBe(1);
    expect((Number(first) + Number(kib)) * 1024).toBe(maxHeaderSize - 1024);
    expect(maxHeaderSize).toBe(16 * 1024);
  });

  it("headers in all across nginx's limit: the API's 200, or nginx's own JSON 431, never the API's 431 (what nginx passes on, with what it adds, fits 16 KiB)", async () => {
    // Header lines of up to 1,000 bytes, the head growing by 256 bytes from 8 KiB to 64 KiB. The
    // stand-in runs with Node's limit, as the API does: a head over 16 KiB would get its bare 431.
    const answers: Array<[number, number]> = [];
    for (let total = 8 * 1024; total <= 64 * 1024; total += 256) {
      const headers = ['Host: localhost'];
      let size = 'GET /api/tasks HTTP/1.1\r\n'.length + 'Host: localhost\r\n'.length + 'Connection: close\r\n\r\n'.length;
      for (let i = 0; size < total; i++) {
        const name = `X-Fill-${i}: `;
        const line = name + 'v'.repeat(Math.max(1, Math.min(1000, total - size - name.length - 2)));
        headers.push(line);
        size += line.length + 2;
      }
      const before = reached;
      const res = await send(req('GET /api/tasks HTTP/1.1', headers));
      if (res.status === 200) {
        expect(JSON.parse(res.body.toString()), `${size} bytes`).toEqual({ success: true, url: '/api/tasks' });
        expect(reached).toBe(before + 1);
      } else {
        expectJsonError(res, 431, 'header_too_large');
        expect(reached, `${size} bytes reached the API`).toBe(before);
      }
      answers.push([size, res.status]);
    }
    // One boundary: everything below it reaches the API, everything above is nginx's 431.
    const firstRefused = answers.findIndex(([, status]) => status !== 200);
    expect(firstRefused, JSON.stringify(answers)).toBeGreaterThan(0);
    expect(answers.slice(firstRefused).every(([, status]) => status === 431), JSON.stringify(answers)).toBe(true);
    // The largest head the API got, with what nginx adds, is within Node's limit.
    expect(largestHead).toBeLessThanOrEqual(maxHeaderSize);
    console.log(`headers in all: the largest head nginx passed on was ${answers[firstRefused - 1]![0]} bytes (${largestHead} at the API); from ${answers[firstRefused]![0]} nginx answers 431`);
  });

  it("a page path keeps nginx's own HTML for a head over its limit", async () => {
    const res = await send(req('GET /tasks HTTP/1.1', ['Host: x', `X-Big: ${'b'.repeat(17_000)}`]));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body.toString()).toContain('Request Header Or Cookie Too Large');
  });

  it('passes a 9–10 KiB header or cookie to the API (nginx used to refuse them at 8 KiB)', async () => {
    for (const header of [`Cookie: session=${'c'.repeat(9 * 1024)}`, `X-Trace: ${'t'.repeat(10 * 1024 - 20)}`]) {
      const before = reached;
      const res = await send(req('GET /api/tasks HTTP/1.1', ['Host: x', header]));
      expect(res.status, res.body.toString()).toBe(200);
      expect(JSON.parse(res.body.toString())).toEqual({ success: true, url: '/api/tasks' });
      expect(reached).toBe(before + 1);
    }
  });
});

describe('1,000 generated requests on API paths', () => {
  const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/);
  const method = fc.oneof(
    fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND', 'get', 'G=T', ''),
    token,
  );
  // Paths that are the API's or the probes' whatever follows (/healthz,x would be a page path).
  const tail = fc.oneof(fc.constant(''), fc.stringMatching(/^[\x21-\x7e]{0,40}$/), fc.string({ maxLength: 20 }), fc.integer({ min: 7_000, max: 20_000 }).map((n) => 'q'.repeat(n)));
  const path = fc.oneof(
    fc.tuple(fc.constantFrom('/api', '/api/tasks', '/api/tasks/1', '/api/openapi.json'), fc.constantFrom('', '/', '?q='), tail).map(([p, sep, t]) => (sep ? p + sep + t : p)),
    fc.tuple(fc.constantFrom('/healthz', '/readyz'), fc.constantFrom('', '?'), tail).map(([p, sep, t]) => (sep ? p + sep + t : p)),
  );
  const version = fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/3', 'HTTP/0.9', 'HTTP/1.2', 'HTTX/1.1', 'http/1.1', 'HTTP/10.1', 'HTTP/1.1 x');
  const headerValue = fc.oneof(
    fc.stringMatching(/^[\x20-\x7e]{0,60}$/),
    fc.integer({ min: 8_000, max: 20_000 }).map((n) => 'v'.repeat(n)),
    fc.string({ maxLength: 20 }),
    fc.constantFrom('\x00', 'a\rb', 'a\x7fb', '\u00e9t\u00e9'),
  );
  const header = fc.tuple(fc.oneof(fc.constantFrom('Host', 'Cookie', 'Content-Type', 'Expect', 'Upgrade', 'X-Forwarded-For', 'Content-Length', 'Transfer-Encoding', 'Idempotency-Key', 'X Bad', 'X:Y', ''), token), headerValue);
  const body = fc.oneof(
    fc.constant({ kind: 'none' as const, text: '' }),
    fc.json({ maxDepth: 2 }).map((text) => ({ kind: 'length' as const, text })),
    fc.json({ maxDepth: 2 }).map((text) => ({ kind: 'chunked' as const, text })),
    fc.string({ maxLength: 40 }).map((text) => ({ kind: 'extra' as const, text })),
  );
  const request = fc.record({ method, path, version, headers: fc.array(header, { maxLength: 5 }), host: fc.boolean(), body });

  function render(r: fc.Arbitrary<unknown> extends never ? never : { method: string; path: string; version: string; headers: [string, string][]; host: boolean; body: { kind: 'none' | 'length' | 'chunked' | 'extra'; text: string } }): Buffer {
    const lines = [`${r.method} ${r.path} ${r.version}`];
    if (r.host) lines.push('Host: localhost');
    for (const [name, value] of r.headers) lines.push(`${name}: ${value}`);
    const bytes = Buffer.from(r.body.text, 'utf8');
    let payload: Buffer = Buffer.alloc(0);
    if (r.body.kind === 'length' || r.body.kind === 'extra') {
      lines.push(`Content-Length: ${r.body.kind === 'extra' ? 1 : bytes.length}`);
      payload = r.body.kind === 'extra' ? Buffer.concat([Buffer.from('{'), bytes]) : bytes;
    } else if (r.body.kind === 'chunked') {
      lines.push('Transfer-Encoding: chunked');
      payload = Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n0\r\n\r\n')]);
      if (bytes.length === 0) payload = Buffer.from('0\r\n\r\n');
    }
    lines.push('Connection: close');
    return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), payload]);
  }

  it('never gets an HTML body from nginx, and every error it makes has a documented code', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const res = await send(render(r));
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const text = res.body.toString('utf8');
        expect(text, `HTML from nginx for ${JSON.stringify(r).slice(0, 300)}`).not.toMatch(/<html|<center>|<!doctype/i);
        if (res.status === 0) return; // nothing came back (a request nginx drops without an answer)
        // 2xx: the stand-in's JSON, or the probes' own "ok" (text/plain by design).
        if (res.status >= 400 && text.length > 0) {
          expect(res.headers['content-type'], text).toMatch(/^application\/json/);
          const { code } = JSON.parse(text) as { code: string };
          // The API's own answers are passed through; the stand-in above never sends an error.
          expect(documented.has(`${res.status} ${code}`), `${res.status} ${code}`).toBe(true);
        }
      }),
      { numRuns: 1000, seed: 17, endOnFailure: true },
    );
    // For the record: what the run produced, by status.
    console.log('nginx answers by status:', JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b))));
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(1000);
    expect(statuses.get(200)).toBeGreaterThan(0);
  });
});
