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

  it('takes a bare key (as Stripe-style clients send it) as the same key as its quoted form', async () => {
    const bare = '8e03978e-40d5-43e8-bc93-6894a57f9324-bare';
    const first = await post('{"task":"bare key"}', { 'Idempotency-Key': bare });
    expect([first.status, first.headers.get('idempotent-replayed')]).toEqual([201, null]);
    const text = await first.text();
    for (const same of [bare, `"${bare}"`]) {
      const again = await post('{"task":"bare key"}', { 'Idempotency-Key': same });
      expect([again.status, await again.text(), again.headers.get('idempotent-replayed')], same).toEqual([201, text, 'true']);
    }
    // The quoted form first, then bare: one key either way round.
    const quotedFirst = await post('{"task":"quoted then bare"}', { 'Idempotency-Key': '"quoted-then-bare-1"' });
    expect(quotedFirst.status).toBe(201);
    const bareAfter = await post('{"task":"quoted then bare"}', { 'Idempotency-Key': 'quoted-then-bare-1' });
    expect([bareAfter.status, await bareAfter.text(), bareAfter.headers.get('idempotent-replayed')]).toEqual([201, await quotedFirst.text(), 'true']);
    expect((await post('{"task":"another body"}', { 'Idempotency-Key': bare })).status).toBe(422);
    expect(await count('bare key')).toBe(1);
    expect(await count('quoted then bare')).toBe(1);
  });

  it('refuses a key that is neither bare nor quoted, and two Idempotency-Key header lines, with 400', async () => {
    for (const k of ['not quoted', 'half"quoted', '"unterminated', 'a,b', 'back\\slash']) {
      const bad = await post('{"task":"bad key"}', { 'Idempotency-Key': k });
      expect(bad.status, k).toBe(400);
      expect((await bad.json()).code, k).toBe('invalid_idempotency_key');
    }
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
