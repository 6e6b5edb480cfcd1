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
    const started = performance.now();
    const slow = await app.request('/slow');
    expect(performance.now() - started).toBeLessThan(900);
    expect(slow.status).toBe(503);
    expect(slow.headers.get('retry-after')).toBe('2');
    expect(await slow.json()).toEqual({ success: false, message: 'The request took longer than 100 ms; try again shortly', code: 'request_budget_exceeded' });
    const fast = await app.request('/fast');
    expect(fast.status).toBe(200);
    expect(await fast.json()).toEqual({ ok: true });
  });
});
