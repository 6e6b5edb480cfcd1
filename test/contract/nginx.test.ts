import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT_ENV, describeApiContract, type ContractHost } from './api-contract';
import { nginxInFrontOfBundle } from '../support/hosts';

describeApiContract('nginx in front of the bundle, over HTTP', 'pg', nginxInFrontOfBundle, { probes: false });

// What nginx answers itself on API paths is JSON in the API's error shape too.
describe('nginx on API paths', () => {
  let host: ContractHost;
  beforeAll(async () => {
    host = await nginxInFrontOfBundle(CONTRACT_ENV);
  });
  afterAll(async () => host?.stop());

  it('a body over nginx\'s own limit → JSON 413 payload_too_large, nothing written', async () => {
    const big = new TextEncoder().encode(JSON.stringify({ task: 'x', padding: 'y'.repeat(100 * 1024) }));
    const r = await host.request('POST', '/api/tasks', big, { 'content-type': 'application/json' });
    expect(r.status).toBe(413);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await r.json()).toEqual({ success: false, message: 'The request body must be at most 16384 bytes', code: 'payload_too_large' });
    expect((await (await host.request('GET', '/api/tasks')).json()).tasks).toEqual([]);
  });

  it('answers about one task keep their strong ETag (not gzipped); lists are still gzipped', async () => {
    const gzip = { 'accept-encoding': 'gzip' };
    const body = new TextEncoder().encode(JSON.stringify({ task: 'long enough for gzip_min_length '.repeat(7) }));
    const created = await host.request('POST', '/api/tasks', body, { ...gzip, 'content-type': 'application/json' });
    expect([created.status, created.headers.get('etag'), created.headers.get('content-encoding')]).toEqual([201, '"1"', null]);
    const { id } = (await created.json()).task;
    const one = await host.request('GET', `/api/tasks/${id}`, undefined, gzip);
    expect([one.headers.get('etag'), one.headers.get('content-encoding')]).toEqual(['"1"', null]);
    const list = await host.request('GET', '/api/tasks', undefined, gzip);
    expect([list.status, list.headers.get('content-encoding')]).toEqual([200, 'gzip']);
    expect((await list.json()).tasks).toHaveLength(1);
    expect((await host.request('DELETE', `/api/tasks/${id}`, undefined, { 'if-match': '"1"' })).status).toBe(200);
  });

  it('POST /api without the slash reaches the API: no redirect a client would follow as a GET', async () => {
    const r = await host.request('POST', '/api', new TextEncoder().encode('{"task":"x"}'), { 'content-type': 'application/json' });
    expect(r.status).toBe(405);
    expect(r.headers.get('location')).toBeNull();
    expect((await r.json()).code).toBe('method_not_allowed');
    expect((await (await host.request('GET', '/api')).json())).toEqual({ message: 'Task API is running' });
  });
});
