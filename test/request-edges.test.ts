import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContractHost, StartHost } from './contract/api-contract';
import { bundleOnPostgres, nginxInFrontOfBundle, npmRunDev, npmStart, onPostgres } from './support/hosts';
import { parseResponse, rawRequest, type RawResponse } from './support/raw-http';

// Requests at the edge of HTTP/1.1, over raw sockets on every host where Node's server reads them
// (the bundle, `npm start`, `npm run dev`): bytes after a request, a body that stops arriving.
// Each answer is the API's JSON, and a request that ran always gets its own answer.

// A short budget so a stalled body is given up on in seconds; still above the database's own
// limits together, as config.ts requires.
const EDGE_ENV = { DB_CONNECT_TIMEOUT_MS: '2000', DB_STATEMENT_TIMEOUT_MS: '2000', REQUEST_TIMEOUT_MS: '5000' };

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every HTTP/1.1 answer in `raw`, in order: pipelined answers are cut at their Content-Length. */
function answers(raw: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const one = parseResponse(rest);
    if (one.status === 0) break;
    const headEnd = rest.indexOf('\r\n\r\n') + 4;
    const length = Number(one.headers['content-length'] ?? rest.length - headEnd);
    out.push({ ...one, body: rest.subarray(headEnd, headEnd + length) });
    rest = rest.subarray(headEnd + length);
  }
  return out;
}

const json = (r: RawResponse) => JSON.parse(r.body.toString('utf8'));

/**
 * A POST and a PUT whose bodies stop halfway: each gets the API's 408; nothing is stored. The API
 * closes the connection (`Connection: close`); nginx says keep-alive and discards the rest of the
 * body if it ever comes.
 */
async function expectStalledBodyAnswered408(port: number, tasks: () => Promise<unknown[]>, { closes = true } = {}) {
  const before = await tasks();
  for (const [method, path] of [
    ['POST', '/api/tasks'],
    ['PUT', '/api/tasks/1'],
  ]) {
    const res = await rawRequest(port, `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"task":"half`, 60_000);
    expect(res.status, `${method}: ${res.raw.toString()}`).toBe(408);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    if (closes) expect(res.headers.connection).toBe('close');
    expect(json(res)).toEqual({ success: false, message: 'The request body was not received within 5000 ms', code: 'request_timeout' });
  }
  expect(await tasks()).toEqual(before);
}

/**
 * Requests whose client half-closes right after sending (a FIN, as `nc -N` does): each runs once
 * and its answer comes back on the side still open (RFC 9112 §9.6: a half-close does not mean the
 * client lost interest). A write without a key, a keyed write and a read, each on its own connection.
 */
async function expectHalfClosedAnswered(port: number, tasks: () => Promise<{ task: string }[]>) {
  const text = `half closed ${Math.random().toString(36).slice(2)}`;
  const post = (key: string | undefined, task: string) => {
    const body = JSON.stringify({ task });
    const keyLine = key ? `Idempotency-Key: "${key}"\r\n` : '';
    return `POST /api/tasks HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${keyLine}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  };
  for (const [key, task] of [
    [undefined, `${text} a`],
    [`hc-${text.slice(12)}`, `${text} b`],
  ] as const) {
    const res = await rawRequest(port, post(key, task), 30_000, { halfClose: true });
    expect(res.status, `${key ? 'keyed' : 'unkeyed'} POST: ${res.raw.length} bytes: ${res.raw.toString()}`).toBe(201);
    expect(json(res)).toMatchObject({ success: true, task: { task } });
  }
  // Pipelined writes, then the FIN while they still run: every one is answered, in order.
  const batch = Array.from({ length: 10 }, (_, i) => `${text} c${i}`);
  const piped = await rawRequest(port, batch.map((task) => post(undefined, task)).join(''), 60_000, { halfClose: true });
  const all = answers(piped.raw);
  expect(all.map((a) => a.status), `pipelined: ${piped.raw.length} bytes: ${piped.raw.toString().slice(0, 2000)}`).toEqual(batch.map(() => 201));
  expect(all.map((a) => json(a).task.task)).toEqual(batch);
  const list = await rawRequest(port, 'GET /api/tasks HTTP/1.1\r\nHost: localhost\r\n\r\n', 30_000, { halfClose: true });
  expect(list.status, `GET: ${list.raw.length} bytes: ${list.raw.toString()}`).toBe(200);
  const expected = [`${text} a`, `${text} b`, ...batch].sort();
  expect((json(list).tasks as { task: string }[]).map((t) => t.task).filter((t) => t.startsWith(text)).sort()).toEqual(expected);
  // Each write ran exactly once.
  expect((await tasks()).map((t) => t.task).filter((t) => t.startsWith(text)).sort()).toEqual(expected);
}

/**
 * A URI too long for the server: 414 uri_too_long (RFC 9110 §15.5.15) from the API and from nginx
 * alike; a header section too large stays 431 header_too_large (RFC 6585 §5). Nothing reaches the app.
 */
async function expectLongUriAnswered414(port: number) {
  const long = await rawRequest(port, `GET /api/tasks?q=${'a'.repeat(70_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`, 30_000);
  expect(long.status, long.raw.toString().slice(0, 500)).toBe(414);
  expect(long.headers['content-type']).toMatch(/^application\/json/);
  expect(json(long)).toMatchObject({ success: false, code: 'uri_too_long' });
  const header = await rawRequest(port, `GET /api/tasks HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'b'.repeat(17_000)}\r\n\r\n`, 30_000);
  expect(header.status, header.raw.toString().slice(0, 500)).toBe(431);
  expect(json(header)).toMatchObject({ success: false, code: 'header_too_large' });
}

/**
 * Request lines of every length across the limits (Node's 16 KiB header block, nginx's request-line
 * buffer), with small headers: each is 200 or 414 uri_too_long (JSON), never 431 header_too_large:
 * the URI is what is too long. Once refused, every longer one is refused too. Returns the first
 * length refused, and `limits` (the request-line lengths where a limit sits) are each swept ±3.
 */
async function expectUriSweep(port: number, limits: number[]): Promise<number> {
  const lengths = new Set<number>();
  for (let n = 15_000; n <= 16_500; n += 25) lengths.add(n);
  for (const limit of [16_275, 16_382, 16_384, ...limits]) for (let d = -3; d <= 3; d++) lengths.add(limit + d);
  const prefix = 'GET /api/?q=';
  const suffix = ' HTTP/1.1';
  let firstRefused = Infinity;
  for (const length of [...lengths].sort((a, b) => a - b)) {
    const line = `${prefix}${'a'.repeat(length - prefix.length - suffix.length)}${suffix}`;
    const res = await rawRequest(port, `${line}\r\nHost: localhost\r\nConnection: close\r\n\r\n`, 30_000);
    const text = res.body.toString('utf8');
    expect([200, 414], `a ${length}-byte request line: ${res.status} ${text.slice(0, 200)}`).toContain(res.status);
    expect(res.headers['content-type'], `a ${length}-byte request line`).toMatch(/^application\/json/);
    if (res.status === 414) {
      expect(JSON.parse(text)).toMatchObject({ success: false, code: 'uri_too_long' });
      firstRefused = Math.min(firstRefused, length);
    } else {
      expect(length, `a ${length}-byte request line passed after a ${firstRefused}-byte one was refused`).toBeLessThan(firstRefused);
    }
  }
  return firstRefused;
}

/**
 * Sends a request's head, waits for the interim `100 Continue` (RFC 9110 §10.1.1), then its body,
 * and reads the answer until the server closes. Rejects when no 100 Continue comes within 20 s.
 */
function continuedRequest(port: number, head: string, body: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    let continued = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no 100 Continue within 20 s: ${Buffer.concat(chunks).toString()}`));
    }, 20_000);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (!continued && /^HTTP\/1\.1 100 /.test(Buffer.concat(chunks).toString('latin1'))) {
        continued = true;
        clearTimeout(timer);
        socket.write(body);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      if (continued) resolve(parseResponse(Buffer.concat(chunks)));
    });
    socket.write(head);
  });
}

/**
 * An `Expect` other than 100-continue is 417 expectation_failed (JSON) on every host, nothing
 * written (RFC 9110 §10.1.1 lets a server refuse it; nginx used to ignore it, and the write ran);
 * `Expect: 100-continue` still gets its 100 Continue and the write its 201.
 */
async function expectExpectations(port: number, tasks: () => Promise<{ task: string }[]>) {
  const before = await tasks();
  const text = `expect ${Math.random().toString(36).slice(2)}`;
  const body = JSON.stringify({ task: text });
  for (const [method, path, expect_] of [
    ['POST', '/api/tasks', 'teapot'],
    ['POST', '/api/tasks', '200-ok'],
    ['PUT', '/api/tasks/1', 'x'],
    ['GET', '/api/tasks', 'teapot'],
  ]) {
    const res = await rawRequest(port, `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nExpect: ${expect_}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`, 30_000);
    expect(res.status, `${method} ${path} with Expect: ${expect_}: ${res.raw.toString().slice(0, 500)}`).toBe(417);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(json(res)).toEqual({ success: false, message: 'Only the expectation 100-continue is supported', code: 'expectation_failed' });
  }
  expect(await tasks()).toEqual(before);
  const res = await continuedRequest(port, `POST /api/tasks HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`, body);
  expect(res.status, res.raw.toString()).toBe(201);
  expect(json(res)).toMatchObject({ success: true, task: { task: text } });
  expect((await tasks()).map((t) => t.task)).toContain(text);
}

const HOSTS: Array<[string, StartHost]> = [
  ['the bundle on PostgreSQL', bundleOnPostgres],
  ['npm start', npmStart],
  ['npm run dev', npmRunDev],
];

describe.each(HOSTS)('request edges: %s', (_name, start) => {
  let host: ContractHost;
  let port: number;
  beforeAll(async () => {
    host = await start(EDGE_ENV);
    port = Number(new URL(host.url!).port);
  }, 180_000);
  afterAll(async () => host?.stop());

  const add = async (task: string) => {
    const r = await host.request('POST', '/api/tasks', new TextEncoder().encode(JSON.stringify({ task })), { 'content-type': 'application/json' });
    expect(r.status).toBe(201);
    return (await r.json()).task as { id: number; task: string };
  };
  const tasks = async () => (await (await host.request('GET', '/api/tasks')).json()).tasks as { id: number; task: string }[];
  const clear = async () => {
    for (const t of await tasks()) expect((await host.request('DELETE', `/api/tasks/${t.id}`)).status).toBe(200);
  };

  it('a DELETE with Connection: close followed by more bytes gets its own 200; the bytes are dropped', async () => {
    await clear();
    const t = await add('delete me');
    const res = await rawRequest(port, `DELETE /api/tasks/${t.id} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n{`, 30_000);
    const all = answers(res.raw);
    expect(all.map((a) => a.status), res.raw.toString()).toEqual([200]);
    expect(json(all[0]!)).toEqual({ success: true, message: 'Task deleted successfully', id: t.id });
    expect(await tasks()).toEqual([]);
  });

  it('a body longer than its Content-Length: the POST gets its 201, the extra bytes a separate 400 after it', async () => {
    await clear();
    const body = JSON.stringify({ task: 'exactly once' });
    const res = await rawRequest(
      port,
      `POST /api/tasks HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}xyz}`,
      30_000,
    );
    const all = answers(res.raw);
    expect(all.map((a) => a.status), res.raw.toString()).toEqual([201, 400]);
    const created = json(all[0]!);
    expect(created).toMatchObject({ success: true, message: 'Task added successfully', task: { task: 'exactly once' } });
    expect(all[1]!.headers['content-type']).toMatch(/^application\/json/);
    expect(json(all[1]!)).toEqual({ success: false, message: 'The request is not valid HTTP/1.1', code: 'bad_request' });
    expect(all[1]!.headers.connection).toBe('close');
    expect((await tasks()).map((x) => x.task)).toEqual(['exactly once']);
  });

  it('pipelined requests then bytes that are no request: each request its own answer, in order, then the 400', async () => {
    await clear();
    const t = await add('pipelined');
    const res = await rawRequest(port, `GET /api/tasks/${t.id} HTTP/1.1\r\nHost: localhost\r\n\r\nDELETE /api/tasks/${t.id} HTTP/1.1\r\nHost: localhost\r\n\r\n\x00garbage\r\n\r\n`, 30_000);
    const all = answers(res.raw);
    expect(all.map((a) => a.status), res.raw.toString()).toEqual([200, 200, 400]);
    expect(json(all[0]!).task).toMatchObject({ id: t.id, task: 'pipelined' });
    expect(json(all[1]!)).toEqual({ success: true, message: 'Task deleted successfully', id: t.id });
    expect(json(all[2]!).code).toBe('bad_request');
    expect(await tasks()).toEqual([]);
  });

  it('a body that stops arriving → 408 request_timeout (JSON) within the request budget, connection closed, nothing written', () => expectStalledBodyAnswered408(port, tasks), 150_000);

  it('a request followed by the client half-closing (FIN) runs once and gets its answer', () => expectHalfClosedAnswered(port, tasks), 120_000);

  it('a 70,000-byte URI → 414 uri_too_long (JSON), as from nginx; a header over 16 KiB stays 431', () => expectLongUriAnswered414(port));

  it('Expect other than 100-continue → 417 expectation_failed (JSON), nothing written; 100-continue still works', () => expectExpectations(port, tasks));

  it('request lines across the 16 KiB limit: 200 or 414 uri_too_long, never 431', async () => {
    // Node counts the request line with the headers (http.maxHeaderSize): a line just under 16 KiB
    // with a Host header is over it, and that is the URI's fault.
    const refused = await expectUriSweep(port, []);
    expect(refused).toBeLessThanOrEqual(16_384);
    expect(refused).toBeGreaterThan(16_300);
  });
});

// `npm start` and `npm run dev` on PostgreSQL as well: on PGlite a write is answered within the
// same turn of the event loop that read it, before the FIN is seen, which hides a server that
// ends the connection on a FIN.
describe.each([
  ['npm start on PostgreSQL', onPostgres(npmStart)],
  // npm run dev migrates only when told to (functions/api/dev.ts).
  ['npm run dev on PostgreSQL', (env) => onPostgres(npmRunDev)({ MIGRATE_ON_START: 'true', ...env })],
] as Array<[string, StartHost]>)('request edges: %s', (_name, start) => {
  let host: ContractHost;
  beforeAll(async () => {
    host = await start(EDGE_ENV);
  }, 180_000);
  afterAll(async () => host?.stop());
  const tasks = async () => (await (await host.request('GET', '/api/tasks')).json()).tasks as { task: string }[];

  it('a request followed by the client half-closing (FIN) runs once and gets its answer', () => expectHalfClosedAnswered(Number(new URL(host.url!).port), tasks), 120_000);
});

// Behind nginx, a write without an Idempotency-Key streams its body to the API, so the API's 408
// reaches the client well before nginx's CLIENT_TIMEOUT (60 s), after which nginx would close the
// connection without an answer. (A keyed write is buffered by nginx's hop so that it can be
// retried, and nginx answers its stalled body 408 itself: test/web-nginx-errors.test.ts.)
describe('request edges: nginx in front of the bundle', () => {
  let host: ContractHost;
  beforeAll(async () => {
    host = await nginxInFrontOfBundle(EDGE_ENV);
  }, 180_000);
  afterAll(async () => host?.stop());
  const tasks = async () => (await (await host.request('GET', '/api/tasks')).json()).tasks as { task: string }[];

  it('a write without a key whose body stops arriving → the API\'s JSON 408 request_timeout, nothing written', () =>
    expectStalledBodyAnswered408(Number(new URL(host.url!).port), tasks, { closes: false }), 150_000);

  it('a request followed by the client half-closing (FIN) runs once and gets its answer through nginx (not a 499)', () =>
    expectHalfClosedAnswered(Number(new URL(host.url!).port), tasks), 120_000);

  it('a 70,000-byte URI → 414 uri_too_long (JSON), as from the API; a header over 16 KiB stays 431', () => expectLongUriAnswered414(Number(new URL(host.url!).port)));

  it('Expect other than 100-continue → 417 expectation_failed (JSON), nothing written; 100-continue still works', () =>
    expectExpectations(Number(new URL(host.url!).port), tasks));

  it("request lines across nginx's and the API's limits: 200 or 414 uri_too_long, never 431 (what nginx adds fits)", async () => {
    // nginx's request-line buffer (large_client_header_buffers) leaves the API room for the
    // headers nginx adds: every line it lets through with small headers reaches the API and is
    // answered, and the first it refuses is nginx's own 414.
    const buffer = Number(/large_client_header_buffers \d+ (\d+)k;/.exec(readFileSync(join(root, 'web/nginx/nginx.conf.template'), 'utf8'))![1]) * 1024;
    const refused = await expectUriSweep(Number(new URL(host.url!).port), [buffer - 2]);
    // nginx takes a line that fits its one large buffer with its CRLF and the small headers after it
    // (Host, Connection: under 64 bytes); past that the head is the 414, its request line the larger part.
    expect(refused).toBeLessThanOrEqual(buffer - 1);
    expect(refused).toBeGreaterThan(buffer - 64);
  });
});
