import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeletSecretVolume } from '../../test/support/kubelet-secret-volume';
import { createApp } from './app';
import { loadConfig } from './config';
import { createPgDb } from './db/pg';
import { bearerToken, internalTokenCheck, type InternalTokenCheck } from './internal-token';
import { createLogger } from './logger';
import { createMetrics } from './metrics';

const A = 'tokenAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const B = 'tokenBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const C = 'tokenCccccccccccccccccccccccccccccccc';
const NEVER = 'neverIssuedxxxxxxxxxxxxxxxxxxxxxxxx';

const checks: InternalTokenCheck[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of checks.splice(0)) c.close();
  for (const c of cleanups.splice(0)) c();
});

function track(check: InternalTokenCheck): InternalTokenCheck {
  checks.push(check);
  return check;
}

function volume(payload: Record<string, string>): KubeletSecretVolume {
  const v = KubeletSecretVolume.create(payload);
  cleanups.push(() => v.remove());
  return v;
}

async function eventually(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('internalTokenCheck', () => {
  it('accepts the lone token file and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-token-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'token'), `${A}\n`);
    const check = track(internalTokenCheck(join(dir, 'token')));
    expect(check(A)).toBe(true);
    for (const bad of [undefined, '', ' ', ',', B, NEVER, `${A}x`, A.slice(1)]) expect(check(bad)).toBe(false);
  });

  it('accepts the previous token beside it, and a list of at most two tokens', () => {
    const v = volume({ token: B, previous: A });
    const check = track(internalTokenCheck(join(v.dir, 'token')));
    expect(check(B)).toBe(true);
    expect(check(A)).toBe(true);
    expect(check(`${B}, ${A}`)).toBe(true);
    expect(check(`${NEVER}, ${A}`)).toBe(true);
    expect(check(`${NEVER}, ${C}`)).toBe(false);
    // A caller cannot try more than two guesses per request.
    expect(check(`${NEVER}, ${C}, ${B}`)).toBe(false);
    expect(check(C)).toBe(false);
  });

  it('follows kubelet volume swaps: exactly the tokens of the current Secret, nothing kept in memory', async () => {
    const v = volume({ token: A });
    const check = track(internalTokenCheck(join(v.dir, 'token'), { pollMs: 200 }));
    expect(check(A)).toBe(true);

    v.update({ token: B, previous: A });
    await eventually(() => check(B));
    expect(check(A)).toBe(true);

    v.update({ token: C, previous: B });
    await eventually(() => !check(A));
    expect(check(C)).toBe(true);
    expect(check(B)).toBe(true);
    expect(check(NEVER)).toBe(false);

    // A process started now accepts the same set as the one that has run all along.
    const fresh = track(internalTokenCheck(join(v.dir, 'token')));
    for (const t of [A, B, C, NEVER]) expect(fresh(t)).toBe(check(t));

    // `previous` dropped from the Secret: the old token stops working at once, in every process.
    v.update({ token: C });
    await eventually(() => !check(B));
    expect(check(C)).toBe(true);
  });

  it('refuses to start without a readable, non-empty token file, naming the file only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-token-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    expect(() => internalTokenCheck(join(dir, 'token'))).toThrow(`INTERNAL_TOKEN_FILE: cannot read ${join(dir, 'token')}`);
    writeFileSync(join(dir, 'token'), ' \n');
    writeFileSync(join(dir, 'previous'), A);
    expect(() => internalTokenCheck(join(dir, 'token'))).toThrow(`INTERNAL_TOKEN_FILE: ${join(dir, 'token')} is empty`);
  });

  it('ignores an empty previous file', () => {
    const v = volume({ token: B, previous: '' });
    const check = track(internalTokenCheck(join(v.dir, 'token')));
    expect(check(B)).toBe(true);
    expect(check('')).toBe(false);
    expect(check(`${B},`)).toBe(true);
  });
});

describe('/metrics with INTERNAL_TOKEN_FILE', () => {
  const silent = createLogger('silent');
  /** The composed app, as every host serves it; prom-client's registry is real. */
  async function appWithToken(dir: string) {
    const config = loadConfig({ DATABASE_URL: 'postgres://app:unused@127.0.0.1:1/tasks', INTERNAL_TOKEN_FILE: join(dir, 'token') });
    const db = createPgDb(config.db, silent);
    cleanups.push(() => void db.close());
    return createApp({ config, db: async () => db, log: silent, metrics: createMetrics(() => undefined, () => 0, async () => undefined) });
  }

  it('answers only the mounted tokens, as Authorization: Bearer or X-Internal-Token; the probes stay open', async () => {
    const v = volume({ token: A, previous: B });
    const app = await appWithToken(v.dir);
    for (const path of ['/metrics', '/metrics/', '/metrics?x=1']) {
      const refused = await app.request(path);
      expect(refused.status, path).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(await refused.json()).toMatchObject({ success: false, code: 'unauthorized' });
    }
    for (const headers of [{ authorization: `Bearer ${NEVER}` }, { authorization: `Basic ${A}` }, { authorization: `Bearer ${A}, ${B}` }, { authorization: 'Bearer ' }, { 'x-internal-token': NEVER }] as Record<string, string>[]) {
      expect((await app.request('/metrics', { headers })).status, JSON.stringify(headers)).toBe(401);
    }
    for (const headers of [{ authorization: `Bearer ${A}` }, { authorization: `bearer ${B}` }, { 'x-internal-token': A }] as Record<string, string>[]) {
      const ok = await app.request('/metrics', { headers });
      expect(ok.status, JSON.stringify(headers)).toBe(200);
      expect(await ok.text()).toContain('http_requests_total');
    }
    // A bearer token is not an /api credential: nginx's header is.
    expect((await app.request('/api/', { headers: { authorization: `Bearer ${A}` } })).status).toBe(401);
    expect((await app.request('/healthz')).status).toBe(200);
    expect((await app.request('/readyz')).status).not.toBe(401);
  });

  it('is open without INTERNAL_TOKEN_FILE, as before', async () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://app:unused@127.0.0.1:1/tasks' });
    const db = createPgDb(config.db, silent);
    cleanups.push(() => void db.close());
    const app = createApp({ config, db: async () => db, log: silent, metrics: createMetrics(() => undefined, () => 0, async () => undefined) });
    expect((await app.request('/metrics')).status).toBe(200);
  });
});

describe('bearerToken', () => {
  it('reads RFC 6750 credentials and nothing else', () => {
    expect(bearerToken(`Bearer ${A}`)).toBe(A);
    expect(bearerToken('BEARER abc.def-ghi~_+/==')).toBe('abc.def-ghi~_+/==');
    for (const h of [undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'Bearer a,b', 'Bearerabc']) expect(bearerToken(h), String(h)).toBeUndefined();
  });
});
