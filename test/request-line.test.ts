import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContractHost, StartHost } from './contract/api-contract';
import { bundleOnPostgres, npmStart } from './support/hosts';
import { rawRequest, type RawResponse } from './support/raw-http';

// What Node's parser lets through or answers without a body, straight to the API (no nginx), over
// raw sockets: the version in the request line, a missing Host, a transfer coding other than
// chunked. Each answer is the API's JSON with the status and code nginx answers on /api.

const json = (r: RawResponse) => JSON.parse(r.body.toString('utf8'));

function expectError(res: RawResponse, status: number, code: string, what: string) {
  expect(res.status, `${what}: ${res.raw.toString().slice(0, 400)}`).toBe(status);
  expect(res.headers['content-type'], what).toMatch(/^application\/json/);
  expect(json(res), what).toMatchObject({ success: false, code });
}

const HOSTS: Array<[string, StartHost]> = [
  ['the bundle on PostgreSQL', bundleOnPostgres],
  ['npm start', npmStart],
];

describe.each(HOSTS)('request line, Host and Transfer-Encoding: %s', (_name, start) => {
  let host: ContractHost;
  let port: number;
  beforeAll(async () => {
    host = await start({});
    port = Number(new URL(host.url!).port);
  }, 180_000);
  afterAll(async () => host?.stop());

  const tasks = async () => (await (await host.request('GET', '/api/tasks')).json()).tasks as { task: string }[];
  const post = (version: string, task: string, headers = 'Host: localhost\r\n') => {
    const body = JSON.stringify({ task });
    return `POST /api/tasks ${version}\r\n${headers}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
  };

  it('HTTP/1.1 without Host → 400 bad_request (JSON), nothing written; HTTP/1.0 without Host is served', async () => {
    const before = await tasks();
    expectError(await rawRequest(port, 'GET /api/tasks HTTP/1.1\r\nConnection: close\r\n\r\n'), 400, 'bad_request', 'GET 1.1 without Host');
    const refused = await rawRequest(port, post('HTTP/1.1', 'no host', ''));
    expectError(refused, 400, 'bad_request', 'POST 1.1 without Host');
    expect(json(refused).message).toBe('An HTTP/1.1 request must carry a Host header');
    expect(await tasks()).toEqual(before);

    const read = await rawRequest(port, 'GET /api/tasks HTTP/1.0\r\n\r\n');
    expect(read.status, read.raw.toString()).toBe(200);
    expect(json(read)).toMatchObject({ success: true });
    const text = `http 1.0 ${Math.random().toString(36).slice(2)}`;
    const created = await rawRequest(port, post('HTTP/1.0', text, ''));
    expect(created.status, created.raw.toString()).toBe(201);
    expect((await tasks()).map((t) => t.task)).toContain(text);
  });

  it('a major version other than 1 → 505 http_version_not_supported (JSON), nothing written; HTTP/1.1 still served', async () => {
    const before = await tasks();
    for (const version of ['HTTP/2.0', 'HTTP/3.0', 'HTTP/3.1', 'HTTP/0.9']) {
      const res = await rawRequest(port, `GET /api/tasks ${version}\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      expectError(res, 505, 'http_version_not_supported', `GET ${version}`);
      expect(json(res).message).toBe('Only HTTP/1.x is supported');
      expectError(await rawRequest(port, post(version, `version ${version}`)), 505, 'http_version_not_supported', `POST ${version}`);
    }
    expect(await tasks()).toEqual(before);
    expect((await rawRequest(port, 'GET /api/tasks HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')).status).toBe(200);
  });

  it('a Transfer-Encoding other than chunked → 501 not_implemented (JSON), nothing written; chunked still works', async () => {
    const before = await tasks();
    const body = gzipSync(JSON.stringify({ task: 'gzip coded' }));
    const chunk = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n0\r\n\r\n')]);
    const head = (coding: string) => `POST /api/tasks HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: ${coding}\r\nConnection: close\r\n\r\n`;
    for (const [coding, payload] of [
      ['gzip, chunked', chunk(body)],
      ['GZIP,chunked', chunk(body)],
      ['deflate, chunked', chunk(body)],
      ['gzip', body],
      ['identity', Buffer.from('{"task":"identity coded"}')],
    ] as const) {
      const res = await rawRequest(port, Buffer.concat([Buffer.from(head(coding)), payload]));
      expectError(res, 501, 'not_implemented', `Transfer-Encoding: ${coding}`);
      expect(json(res).message).toBe('This transfer coding is not supported');
    }
    expect(await tasks()).toEqual(before);
    const res = await rawRequest(port, Buffer.concat([Buffer.from(head('chunked')), chunk(Buffer.from('{"task":"chunked"}'))]));
    expect(res.status, res.raw.toString()).toBe(201);
  });
});
