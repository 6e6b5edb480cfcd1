import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerBelowTheApp } from './client-errors';

/** Sends raw bytes and resolves with everything the server wrote before it closed. */
function raw(port: number, chunks: Array<string | { waitMs: number }>): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (d) => (received += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.on('connect', async () => {
      for (const c of chunks) {
        if (typeof c === 'string') socket.write(c, 'latin1');
        else await new Promise((r) => setTimeout(r, c.waitMs));
      }
    });
  });
}

function parse(response: string) {
  const [head, body = ''] = response.split('\r\n\r\n');
  const [statusLine, ...headerLines] = head!.split('\r\n');
  const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine!.split(' ')[1]), headers, body };
}

let server: Server;
let port: number;
beforeAll(async () => {
  server = createServer({ connectionsCheckingInterval: 50 }, (req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.requestTimeout = 400;
  server.headersTimeout = 400;
  answerBelowTheApp(server, { bodyLimitBytes: 1024 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('answers below the app', () => {
  it.each([
    ['a bad request line', ['NOT HTTP AT ALL\r\n\r\n'], 400, 'bad_request'],
    ['a control character in the path', ['GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n'], 400, 'bad_request'],
    ['a header over 16 KiB', [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`], 431, 'header_too_large'],
    ['a request line over 16 KiB (a 70,000-byte URI)', [`GET /?q=${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`], 414, 'uri_too_long'],
    ['a short request line, then headers over 16 KiB in all', [`GET /?q=${'a'.repeat(8_000)} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(9_000)}\r\n\r\n`], 431, 'header_too_large'],
    ['Content-Length with Transfer-Encoding', ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'], 400, 'bad_request'],
    ['headers that never finish', ['GET / HTTP/1.1\r\nHost: x\r\n', { waitMs: 1200 }], 408, 'request_timeout'],
    ['an Expect other than 100-continue', ['POST / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 0\r\n\r\n'], 417, 'expectation_failed'],
    ['Expect: 100-continue with a body over the limit', ['POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n'], 413, 'payload_too_large'],
  ] as const)('%s gets a short JSON error', async (_what, chunks, status, code) => {
    const response = await raw(port, [...chunks]);
    const parsed = parse(response);
    expect(parsed.status).toBe(status);
    expect(parsed.headers['content-type']).toMatch(/^application\/json/);
    expect(Number(parsed.headers['content-length'])).toBe(Buffer.byteLength(parsed.body, 'latin1'));
    const body = JSON.parse(parsed.body);
    expect(body).toMatchObject({ success: false, code });
    expect(typeof body.message).toBe('string');
    expect(response).not.toContain('100 Continue');
  });

  it('a request line over 16 KiB after a pipelined request: that request its 200, then the 414', async () => {
    const response = await raw(port, [`GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /?q=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`]);
    expect(response.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 414']);
    expect(response).toContain('"code":"uri_too_long"');
  });

  it('Expect: 100-continue within the limit continues to the app', async () => {
    const response = await raw(port, ['POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n', { waitMs: 100 }, 'hello']);
    expect(response.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK')).toBe(true);
    expect(response.endsWith('ok')).toBe(true);
  });
});

describe('bytes after a request received whole', () => {
  // The app answers late, as a write on the database does: the parser fails on the bytes after the
  // request well before its answer is written.
  let slow: Server;
  let slowPort: number;
  beforeAll(async () => {
    slow = createServer((req, res) => {
      req.resume();
      req.on('end', () => setTimeout(() => res.end(`ran ${req.method} ${req.url}`), 150));
    });
    answerBelowTheApp(slow, { bodyLimitBytes: 1024 });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    slowPort = (slow.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => slow.close(() => r())));

  it('after Connection: close: the request gets its own answer and the bytes are dropped', async () => {
    const response = await raw(slowPort, ['DELETE /tasks/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n{']);
    expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(response.endsWith('ran DELETE /tasks/1')).toBe(true);
    expect(response).not.toContain('bad_request');
  });

  it('past the Content-Length: the request gets its own answer, then the JSON 400, then the connection closes', async () => {
    const response = await raw(slowPort, ['POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}xyz}']);
    const [first, second] = response.split(/(?=HTTP\/1\.1 )/);
    expect(first).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(first!.endsWith('ran POST /tasks')).toBe(true);
    const parsed = parse(second!);
    expect(parsed.status).toBe(400);
    expect(parsed.headers.connection).toBe('close');
    expect(JSON.parse(parsed.body)).toEqual({ success: false, message: 'The request is not valid HTTP/1.1', code: 'bad_request' });
  });

  it('inside a body that has not all arrived (a broken chunk): the JSON 400 in that request\'s place', async () => {
    const response = await raw(slowPort, ['POST /tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']);
    const parsed = parse(response);
    expect(parsed.status).toBe(400);
    expect(JSON.parse(parsed.body).code).toBe('bad_request');
    expect(response).not.toContain('ran POST');
  });
});
