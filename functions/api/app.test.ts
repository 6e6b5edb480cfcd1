import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createApp } from './app';
import type { AppState } from './state';
import { loadConfig } from './config';
import { createPgDb } from './db/pg';
import { createLogger } from './logger';
import { createMetrics } from './metrics';

const log = createLogger('silent');
// Nothing listens on port 1: every query fails the way a database outage does.
const downConfig = (env: Record<string, string> = {}) => loadConfig({ DATABASE_URL: 'postgres://app:secret-pw@127.0.0.1:1/tasks', DB_CONNECT_TIMEOUT_MS: '1000', ...env });

function appWith(env: Record<string, string> = {}, state: AppState = { shuttingDown: false, migrated: false }) {
  const config = downConfig(env);
  const db = createPgDb(config.db, log);
  return { app: createApp({ config, db: async () => db, log, state }), db, state };
}

describe('internal token', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tasks-token-'));
  const file = join(dir, 'token');
  writeFileSync(file, 's3cret-token\n');

  it('requires X-Internal-Token on /api when INTERNAL_TOKEN_FILE is set', async () => {
    const { app, db } = appWith({ INTERNAL_TOKEN_FILE: file });
    try {
      for (const headers of [{}, { 'x-internal-token': 'wrong' }, { 'x-internal-token': '' }] as Array<Record<string, string>>) {
        const r = await app.request('/api/', { headers });
        expect(r.status).toBe(401);
        expect(await r.json()).toEqual({ success: false, message: 'This API only answers requests that come through the web front end', code: 'unauthorized' });
      }
      expect((await app.request('/api/', { headers: { 'x-internal-token': 's3cret-token' } })).status).toBe(200);
      // Probes stay open: the kubelet and queue-proxy do not carry the token.
      expect((await app.request('/healthz')).status).toBe(200);
    } finally {
      await db.close();
    }
  });

  it('accepts the token in the previous file beside it, and nothing the Secret does not hold', async () => {
    const { app, db } = appWith({ INTERNAL_TOKEN_FILE: file });
    try {
      writeFileSync(join(dir, 'previous'), 'old-token');
      writeFileSync(file, 'rotated-token');
      await new Promise((r) => setTimeout(r, 1100));
      expect((await app.request('/api/', { headers: { 'x-internal-token': 'rotated-token' } })).status).toBe(200);
      expect((await app.request('/api/', { headers: { 'x-internal-token': 'rotated-token, old-token' } })).status).toBe(200);
      expect((await app.request('/api/', { headers: { 'x-internal-token': 'old-token' } })).status).toBe(200);
      // The token the file held before is not kept in memory: only what the Secret holds counts.
      expect((await app.request('/api/', { headers: { 'x-internal-token': 's3cret-token' } })).status).toBe(401);
      expect((await app.request('/api/', { headers: { 'x-internal-token': 'never-valid' } })).status).toBe(401);
    } finally {
      rmSync(join(dir, 'previous'), { force: true });
      writeFileSync(file, 's3cret-token\n');
      await db.close();
    }
  });
});

describe('CORS', () => {
  it('is same-origin only by default and allows the configured origins', async () => {
    const closed = appWith();
    const open = appWith({ CORS_ORIGINS: 'https://tasks.example' });
    try {
      const none = await closed.app.request('/api/', { headers: { origin: 'https://evil.example' } });
      expect(none.headers.get('access-control-allow-origin')).toBeNull();
      const pre = await open.app.request('/api/tasks', { method: 'OPTIONS', headers: { origin: 'https://tasks.example', 'access-control-request-method': 'POST' } });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('https://tasks.example');
      // A conditional write from another origin: If-Match allowed, the ETag readable.
      const conditional = await open.app.request('/api/tasks/1', { method: 'OPTIONS', headers: { origin: 'https://tasks.example', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'content-type, if-match' } });
      expect(conditional.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('if-match');
      const answer = await open.app.request('/api/', { headers: { origin: 'https://tasks.example' } });
      expect(answer.headers.get('access-control-expose-headers')?.split(/,\s*/)).toEqual(['ETag', 'Idempotent-Replayed']);
      const other = await open.app.request('/api/', { headers: { origin: 'https://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
    } finally {
      await closed.db.close();
      await open.db.close();
    }
  });
});

describe('database outage', () => {
  it('answers 503 with a clear message and no connection details', async () => {
    const { app, db } = appWith();
    try {
      const r = await app.request('/api/tasks');
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('2');
      const text = await r.text();
      expect(JSON.parse(text)).toEqual({ success: false, message: 'The database is not reachable right now; try again shortly', code: 'database_unavailable' });
      expect(text).not.toMatch(/secret-pw|127\.0\.0\.1|ECONNREFUSED/);
    } finally {
      await db.close();
    }
  });

  it('readiness: not ready until the schema is confirmed; a later outage does not flip it', async () => {
    const cold = appWith();
    const warm = appWith({}, { shuttingDown: false, migrated: true });
    try {
      const r = await cold.app.request('/readyz');
      expect(r.status).toBe(503);
      expect(await r.json()).toEqual({ status: 'starting', reason: 'database not reachable yet' });
      expect((await warm.app.request('/readyz')).status).toBe(200);
      warm.state.shuttingDown = true;
      const stopping = await warm.app.request('/readyz');
      expect(stopping.status).toBe(503);
      expect(await stopping.json()).toEqual({ status: 'shutting down' });
      expect((await warm.app.request('/healthz')).status).toBe(200);
    } finally {
      await cold.db.close();
      await warm.db.close();
    }
  });
});

describe('404 and 405', () => {
  it('a known path with another method → JSON 405 with Allow from the route table, probes included; an unknown path → 404 labelled unmatched', async () => {
    const config = downConfig();
    const db = createPgDb(config.db, log);
    const metrics = createMetrics(() => db.stats());
    const app = createApp({ config, db: async () => db, log, metrics });
    try {
      const probe = await app.request('/healthz', { method: 'POST' });
      expect(probe.status).toBe(405);
      expect(probe.headers.get('allow')).toBe('GET, HEAD');
      expect(await probe.json()).toEqual({ success: false, message: 'POST is not allowed on /healthz; use GET, HEAD', code: 'method_not_allowed' });
      const item = await app.request('/api/tasks/1', { method: 'POST' });
      expect(item.headers.get('allow')).toBe('GET, HEAD, PUT, PATCH, DELETE');
      const unknown = await app.request('/nope', { method: 'POST' });
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get('allow')).toBeNull();
      const { body } = await metrics.render();
      expect(body).toContain('http_requests_total{method="POST",route="unmatched",status="404"} 1');
      expect(body).not.toMatch(/route="\/healthz",status="405"/);
    } finally {
      await db.close();
    }
  });
});
