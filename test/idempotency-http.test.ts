import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from './support/api';

/** The Idempotency-Key rules over real HTTP against the bundle (dist/api/server.mjs, PGlite). */
let api: RunningApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api?.stop();
});

const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(`${api.url}/api/tasks`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
const count = async (text: string) =>
  ((await (await fetch(`${api.url}/api/tasks`)).json()) as { tasks: { task: string }[] }).tasks.filter((t) => t.task === text).length;

describe('Idempotency-Key over HTTP', () => {
  it('replays, refuses reuse with another body, and leaves unkeyed writes alone', async () => {
    const key = { 'Idempotency-Key': '"http-8e03978e-40d5-43e8-bc93-6894a57f9324"' };
    const first = await post('{"task":"over http"}', key);
    expect(first.status).toBe(201);
    const text = await first.text();
    const again = await post('{"task":"over http"}', key);
    expect([again.status, await again.text(), again.headers.get('idempotent-replayed')]).toEqual([201, text, 'true']);
    expect(await count('over http')).toBe(1);

    const other = await post('{"task":"something else"}', key);
    expect(other.status).toBe(422);
    expect((await other.json()).code).toBe('idempotency_key_reused');

    expect((await post('{"task":"no key"}')).status).toBe(201);
    expect((await post('{"task":"no key"}')).status).toBe(201);
    expect(await count('no key')).toBe(2);
  });

  it('refuses a malformed key, and two Idempotency-Key header lines, with 400', async () => {
    const bad = await post('{"task":"bad key"}', { 'Idempotency-Key': 'not-quoted' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).code).toBe('invalid_idempotency_key');
    // The draft: a client MUST NOT send more than one. Node joins the lines with ", ", which no key matches.
    const twice = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${api.url}/api/tasks`,
        { method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': ['"one"', '"two"'] } },
        (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      req.end('{"task":"two keys"}');
    });
    expect(twice.status).toBe(400);
    expect(JSON.parse(twice.body).code).toBe('invalid_idempotency_key');
    expect(await count('bad key')).toBe(0);
    expect(await count('two keys')).toBe(0);
  });

  it('documents the header in the served OpenAPI document', async () => {
    const doc = (await (await fetch(`${api.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
    };
    expect(doc.paths['/tasks']!.post!.parameters).toContainEqual(expect.objectContaining({ name: 'idempotency-key', in: 'header' }));
  });
});
