import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INVALID_UTF8_BODIES, LONE_SURROGATE_BODIES, LONE_SURROGATE_MESSAGE, TEXT_SAMPLES } from '../functions/api/contract';
import { startApi, type RunningApi } from './support/api';

// The contract's text rows over real HTTP against the bundle (dist/api/server.mjs): the Node adapter
// reads and decodes the body itself, so what app.request shows in-process is not enough.
let api: RunningApi;

beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api?.stop();
});

const send = async (method: string, path: string, body: string | Uint8Array<ArrayBuffer>) => {
  const res = await fetch(api.url + path, { method, body, headers: { 'content-type': 'application/json' } });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
};
const json = (bytes: Buffer) => JSON.parse(bytes.toString('utf8'));
const allTasks = async () => ((await (await fetch(`${api.url}/api/tasks`)).json()) as { tasks: { id: number; task: string }[] }).tasks;

describe('text over HTTP, against the bundled server', () => {
  it('comes back byte for byte in every script', async () => {
    for (const text of TEXT_SAMPLES) {
      const sent = Buffer.from(text, 'utf8');
      const created = await send('POST', '/api/tasks', new TextEncoder().encode(JSON.stringify({ task: text })));
      expect(created.status, text).toBe(201);
      const res = await fetch(`${api.url}/api/tasks/${json(created.bytes).task.id}`);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(Buffer.from(json(bytes).task.task, 'utf8').equals(sent), text).toBe(true);
      expect(bytes.includes(Buffer.from(JSON.stringify(text).slice(1, -1), 'utf8')), text).toBe(true);
    }
  });

  it('refuses invalid UTF-8 and lone surrogates with 400 validation_error, writing nothing', async () => {
    const [target] = await allTasks();
    const before = await allTasks();
    const rows = [
      ...INVALID_UTF8_BODIES.map(([name, body]) => ({ name, body, message: 'The request body is not valid UTF-8' })),
      ...LONE_SURROGATE_BODIES.map(([name, body]) => ({ name, body, message: LONE_SURROGATE_MESSAGE })),
    ];
    for (const { name, body, message } of rows) {
      for (const [method, path] of [['POST', '/api/tasks'], ['PUT', `/api/tasks/${target!.id}`], ['PATCH', `/api/tasks/${target!.id}`]] as const) {
        const r = await send(method, path, body);
        expect(r.status, `${method} ${name}`).toBe(400);
        expect(json(r.bytes), `${method} ${name}`).toEqual({ success: false, message, code: 'validation_error' });
      }
    }
    expect(await allTasks()).toEqual(before);
  });
});
