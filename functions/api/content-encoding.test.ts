import { Hono } from 'hono';
import { expect, it } from 'vitest';
import { identityBodies } from './content-encoding';

const app = new Hono();
app.use(identityBodies);
app.post('/', async (c) => c.text(await c.req.text()));
const send = (coding?: string) => app.request('/', { method: 'POST', body: 'as sent', headers: coding === undefined ? {} : { 'content-encoding': coding } });

it.each([undefined, '', 'identity', 'IDENTITY', ' identity , identity '])('takes a body with Content-Encoding %j as sent', async (coding) => {
  const r = await send(coding);
  expect(r.status).toBe(200);
  expect(await r.text()).toBe('as sent');
});

it.each(['gzip', 'x-gzip', 'br', 'deflate', 'zstd', 'compress', 'identity, gzip', 'gzip;q=1', 'what'])('refuses Content-Encoding %j: 415 with Accept-Encoding: identity', async (coding) => {
  const r = await send(coding);
  expect(r.status).toBe(415);
  expect(r.headers.get('accept-encoding')).toBe('identity');
  expect((await r.json()).code).toBe('unsupported_media_type');
});
