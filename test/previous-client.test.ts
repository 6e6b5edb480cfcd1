import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApi, type RunningApi } from './support/api';

// The previous system's React client (2.0.0) hosted on its own origin, calling this API directly:
// what it sends — a preflight, then GET /, GET /tasks,
// POST/PUT with {"task"}, DELETE without a body, checking only response.ok.
const origin = 'http://old-client.example:8080';
let api: RunningApi;

beforeAll(async () => {
  api = await startApi({ env: { CORS_ORIGINS: `${origin}, https://other.example` } });
});
afterAll(async () => api?.stop());

const preflight = (method: string, from: string) =>
  fetch(`${api.url}/api/tasks/1`, {
    method: 'OPTIONS',
    headers: { Origin: from, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': 'content-type' },
  });

it('answers the preflight for a listed origin, for every method the client uses', async () => {
  for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
    const r = await preflight(method, origin);
    expect(r.status, method).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe(origin);
    expect(r.headers.get('access-control-allow-methods')).toContain(method);
    expect(r.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('content-type');
  }
});

it('gives an unlisted origin no CORS headers, so its browser blocks the call', async () => {
  const r = await preflight('DELETE', 'https://evil.example');
  expect(r.headers.get('access-control-allow-origin')).toBeNull();
  const get = await fetch(`${api.url}/api/tasks`, { headers: { Origin: 'https://evil.example' } });
  expect(get.headers.get('access-control-allow-origin')).toBeNull();
});

it('serves the previous client\'s calls with response.ok and the fields it reads', async () => {
  const h = { Origin: origin, 'content-type': 'application/json' };
  const hello = await fetch(`${api.url}/api/`, { headers: { Origin: origin } });
  expect(hello.ok).toBe(true);
  expect(hello.headers.get('access-control-allow-origin')).toBe(origin);
  const created = await fetch(`${api.url}/api/tasks`, { method: 'POST', headers: h, body: JSON.stringify({ task: 'from the old client' }) });
  expect(created.ok).toBe(true);
  const { task } = await created.json();
  const list = await (await fetch(`${api.url}/api/tasks`, { headers: { Origin: origin } })).json();
  expect(list.tasks.map((t: { id: number; task: string }) => [t.id, t.task])).toEqual([[task.id, 'from the old client']]);
  expect((await fetch(`${api.url}/api/tasks/${task.id}`, { method: 'PUT', headers: h, body: JSON.stringify({ task: 'edited' }) })).ok).toBe(true);
  expect((await fetch(`${api.url}/api/tasks/${task.id}`, { method: 'DELETE', headers: { Origin: origin } })).ok).toBe(true);
});
