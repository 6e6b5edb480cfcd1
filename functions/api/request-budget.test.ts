import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { requestBudget } from './request-budget';

describe('requestBudget', () => {
  it('answers 503 request_budget_exceeded with Retry-After when the handler outlives the budget', async () => {
    const app = new Hono();
    app.use(requestBudget(100));
    app.get('/slow', async (c) => {
      await new Promise((r) => setTimeout(r, 1000));
      return c.json({ late: true });
    });
    app.get('/fast', (c) => c.json({ ok: true }));
    // The budget's answer, not the handler's late one: the 503 and its body say which.
    const slow = await app.request('/slow');
    expect(slow.status).toBe(503);
    expect(slow.headers.get('retry-after')).toBe('2');
    expect(await slow.json()).toEqual({ success: false, message: 'The request took longer than 100 ms; try again shortly', code: 'request_budget_exceeded' });
    const fast = await app.request('/fast');
    expect(fast.status).toBe(200);
    expect(await fast.json()).toEqual({ ok: true });
  });

  it('answers 408 request_timeout and closes when the body has not all arrived (Node\'s IncomingMessage.complete)', async () => {
    const app = new Hono();
    app.use(requestBudget(100));
    app.post('/write', async (c) => c.json({ read: await c.req.text() }));
    // A body that never ends, as Node hands over one whose client stopped sending.
    const stalled = () => new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(new TextEncoder().encode('{"task":')) });
    const init = () => ({ method: 'POST', body: stalled(), duplex: 'half' }) as RequestInit;
    const waiting = await app.request('/write', init(), { incoming: { complete: false } });
    expect(waiting.status).toBe(408);
    expect(waiting.headers.get('connection')).toBe('close');
    expect(await waiting.json()).toEqual({ success: false, message: 'The request body was not received within 100 ms', code: 'request_timeout' });
    // Body received whole, handler slow: still the API's own 503.
    const received = await app.request('/write', init(), { incoming: { complete: true } });
    expect(received.status).toBe(503);
  });
});
