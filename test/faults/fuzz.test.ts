import { request } from 'node:http';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

// Property-based fuzzing over real HTTP against the bundle on PostgreSQL, driven by the API's own
// OpenAPI document: documented operations with generated ids, queries, bodies, content types,
// headers and sizes, mixed with undocumented paths and methods. For every request: an answer
// (the process never dies), never a 5xx except 503 during the injected outage, the JSON error
// shape on every 4xx, and no change to the table unless the answer is a 2xx.

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const OUTAGE = { from: Math.floor(RUNS * 0.6), to: Math.floor(RUNS * 0.7) };
const DATABASE_CODES = ['database_unavailable', 'database_busy', 'database_timeout'];

let database: TestDatabase;
let admin: pg.Client;
let proxy: TcpProxy;
let api: RunningApi;
let doc: OpenApi;

interface OpenApi {
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }>; requestBody?: { content: Record<string, { schema: Schema }> } }>>;
  components: { schemas: Record<string, Schema> };
}
interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
}

beforeAll(async () => {
  database = await createTestDatabase('tasks_fuzz');
  admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  const url = new URL(database.url);
  proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.host = `127.0.0.1:${proxy.port}`;
  api = await startApi({ env: { DB_DRIVER: 'pg', DATABASE_URL: url.toString(), MIGRATE_ON_START: 'true', LOG_LEVEL: 'warn' } });
  doc = (await (await fetch(`${api.url}/api/openapi.json`)).json()) as OpenApi;
});
afterAll(async () => {
  await api?.stop();
  await proxy?.close();
  await admin?.end();
  await database?.drop();
});

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  chunked: boolean;
}

function send(r: Req): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = { ...r.headers };
    // Node's client frames a body only for methods it expects one on; say how, so the bytes never
    // spill into a second request (which would test the harness, not the API).
    if (r.body !== undefined) {
      if (r.chunked) headers['transfer-encoding'] = 'chunked';
      else headers['content-length'] = String(Buffer.byteLength(r.body));
    }
    const req = request(`${api.url}${r.path}`, { method: r.method, headers, agent: false, timeout: 20_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type'] ?? ''), body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('no answer in 20 s')));
    if (r.body !== undefined && r.chunked) {
      for (let i = 0; i < r.body.length; i += 4096) req.write(r.body.slice(i, i + 4096));
    } else if (r.body !== undefined) req.write(r.body);
    req.end();
  });
}

/** Every row, so a write that should not have happened is seen, not only a changed count. */
async function fingerprint(): Promise<string> {
  const { rows } = await admin.query(
    "SELECT count(*) AS n, coalesce(md5(string_agg(id || ':' || task || ':' || done || ':' || updated_at, ',' ORDER BY id)), '') AS h FROM main_table",
  );
  return `${rows[0].n}:${rows[0].h}`;
}

// ---- generators, from the document ----

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const anyText = fc.oneof(
  { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 40 }).map((t) => `t ${t}`) },
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', ' ', '   \t\n', '\u0000', 'a\u0000b', "'; DROP TABLE main_table; --", '🙂'.repeat(100), 'x'.repeat(255), 'x'.repeat(256), 'é'.repeat(255), '\u202eright-to-left'),
  fc.integer({ min: 200, max: 20_000 }).map((n) => 'y'.repeat(n)),
);

function valueFor(schema: Schema): fc.Arbitrary<unknown> {
  if (schema.$ref) return valueFor(doc.components.schemas[schema.$ref.split('/').pop()!]!);
  switch (schema.type) {
    case 'string':
      return anyText;
    case 'boolean':
      return fc.oneof(fc.boolean(), fc.constantFrom('true', 0, 1, null));
    case 'integer':
    case 'number':
      return fc.oneof(fc.integer(), fc.double());
    case 'object': {
      const props = Object.entries(schema.properties ?? {});
      const fields = Object.fromEntries(props.map(([k, s]) => [k, fc.oneof({ weight: 4, arbitrary: valueFor(s) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) })]));
      return fc.oneof(
        { weight: 3, arbitrary: fc.record(fields, { requiredKeys: schema.required ?? [] }) },
        { weight: 1, arbitrary: fc.record(fields, { requiredKeys: [] }) },
      );
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

const idValue = fc.oneof(
  { weight: 4, arbitrary: fc.nat().map((n) => ({ existing: n })) },
  { weight: 4, arbitrary: fc.oneof(fc.integer({ min: -5, max: 3000 }), fc.constantFrom(0, 2147483647, 2147483648, 99999999999999999999)).map(String) },
  { weight: 2, arbitrary: fc.constantFrom('abc', '1.5', '1e3', '-1', '%20', '%zz', '%00', '0x10', '١٢', encodeURIComponent('🙂'), '1;2', '') },
);

const contentType = fc.oneof({ weight: 3, arbitrary: fc.constant('application/json') }, { weight: 2, arbitrary: fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json;charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/problem+json',
  'garbage',
  '',
) });

const extraHeaders = fc.dictionary(
  fc.oneof(fc.constantFrom('x-request-id', 'accept', 'accept-encoding', 'origin', 'x-forwarded-for', 'if-none-match', 'range', 'cookie', 'x-internal-token', 'authorization'), fc.stringMatching(/^x-[a-z0-9-]{1,20}$/)),
  // Large values, but all headers together stay under Node's 16 KiB limit: past it Node's parser
  // answers before the app (functions/api/client-errors.ts, tested over a raw socket).
  fc.oneof({ weight: 5, arbitrary: printable }, { weight: 1, arbitrary: fc.integer({ min: 100, max: 20000 }).map((n) => 'h'.repeat(n)) }),
  { maxKeys: 4 },
);

const query = fc.dictionary(fc.oneof(fc.constantFrom('limit', 'cursor'), fc.stringMatching(/^[a-z]{1,8}$/)), fc.oneof(fc.integer({ min: -10, max: 3000 }).map(String), printable), { maxKeys: 3 });

type Draft = Omit<Req, 'path'> & { template: string; id?: unknown; query: Record<string, string>; suffix: string };

function draftArb(): fc.Arbitrary<Draft> {
  const base = doc.servers[0]?.url ?? '';
  const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path: `${base}${path}`, method: method.toUpperCase(), op })));
  const documented = fc.constantFrom(...operations).chain(({ path, method, op }) => {
    const schema = op.requestBody?.content['application/json']?.schema;
    const body = fc.oneof(
      { weight: 6, arbitrary: schema ? valueFor(schema).map((v) => JSON.stringify(v)) : fc.constant(undefined) },
      { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
      { weight: 2, arbitrary: fc.oneof(fc.string({ maxLength: 50 }), fc.constantFrom('{', '{"task":', 'null', '{"task": "a"}{', '\uFEFF{"task":"bom"}', '[]')) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    );
    return fc.record({
      method: fc.oneof({ weight: 8, arbitrary: fc.constant(method) }, { weight: 2, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND') }),
      template: fc.constant(path),
      id: idValue,
      query: path.endsWith('/tasks') ? query : fc.constant({}),
      suffix: fc.oneof({ weight: 9, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('/', '//', '/extra', '/..', '%2F', '?') }),
      body,
      chunked: fc.boolean(),
      headers: fc.record({ 'content-type': contentType, extra: extraHeaders }).map(({ 'content-type': t, extra }) => ({ ...extra, ...(t ? { 'content-type': t } : {}) })),
    });
  });
  const undocumented = fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'),
    template: fc.oneof(fc.constantFrom('/', '/api', '/api/', '/api//tasks', '/API/tasks', '/api/tasks/{id}/done', '/api/nope', '/index.html', '/healthz', '/readyz'), fc.stringMatching(/^\/api\/[a-z0-9%._~-]{0,20}$/)),
    id: idValue,
    query: fc.constant({}),
    suffix: fc.constant(''),
    body: fc.option(fc.string({ maxLength: 100 }), { nil: undefined }),
    chunked: fc.boolean(),
    headers: fc.record({ 'content-type': contentType }),
  });
  return fc.oneof({ weight: 9, arbitrary: documented }, { weight: 1, arbitrary: undocumented });
}

const knownIds: number[] = [];
function resolve(d: Draft): Req {
  const id = typeof d.id === 'object' && d.id !== null ? String(knownIds.length ? knownIds[(d.id as { existing: number }).existing % knownIds.length] : 1) : String(d.id);
  const qs = new URLSearchParams(d.query).toString();
  const path = `${d.template.replace('{id}', id)}${d.suffix}${qs ? `?${qs}` : ''}`;
  const noBody = d.method === 'GET' || d.method === 'HEAD';
  return { method: d.method, path, headers: d.headers, body: noBody ? undefined : d.body, chunked: d.chunked };
}

describe('fuzzing the API from its OpenAPI document', () => {
  it(`${RUNS} generated requests: no 5xx outside the outage, the error shape on 4xx, no write without a 2xx`, async () => {
    expect(Object.keys(doc.paths).length).toBeGreaterThan(2);
    // Some rows to find, update and delete.
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${api.url}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ task: `seed row ${i}` }) });
      knownIds.push(((await r.json()) as { task: { id: number } }).task.id);
    }
    const statuses = new Map<string, number>();
    let n = 0;
    let upAt = 0;
    const started = performance.now();
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    await fc.assert(
      fc.asyncProperty(draftArb(), async (draft) => {
        n++;
        if (n === OUTAGE.from) proxy.down();
        if (n === OUTAGE.to) {
          proxy.up();
          upAt = performance.now();
        }
        // The outage, and the backoff's last wait after it (at most 2 s), allow a 503.
        const outage = proxy.isDown || performance.now() - upAt < 5000;
        const req = resolve(draft);
        const before = await fingerprint();
        const res = await send(req);
        const after = await fingerprint();
        let body: { success?: unknown; message?: unknown; code?: unknown; task?: { id?: unknown } } | undefined;
        try {
          body = JSON.parse(res.body);
        } catch {
          body = undefined;
        }
        const key = `${res.status}${typeof body?.code === 'string' ? ` ${body.code}` : ''}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        const what = `${req.method} ${req.path} ${JSON.stringify(req.headers).slice(0, 200)} body ${String(req.body).slice(0, 200)} → ${res.status} ${res.body.slice(0, 200)}`;

        if (res.status >= 500) {
          const code = req.method === 'HEAD' ? DATABASE_CODES[0] : String(body?.code); // HEAD answers carry no body
          expect(res.status === 503 && outage && DATABASE_CODES.includes(code), `5xx: ${what}`).toBe(true);
        }
        if (res.status >= 400 && req.method !== 'HEAD') {
          expect(res.type, `not JSON: ${what}`).toMatch(/^application\/json/);
          expect(body, `error shape: ${what}`).toMatchObject({ success: false, message: expect.any(String), code: expect.any(String) });
        }
        if (res.status < 200 || res.status >= 300) expect(after, `a write without a 2xx: ${what}`).toBe(before);
        if (res.status === 201 && typeof body?.task?.id === 'number') knownIds.push(body.task.id);
      }),
      { numRuns: RUNS, seed },
    );
    const seconds = (performance.now() - started) / 1000;
    const health = await fetch(`${api.url}/healthz`);
    console.log(`fuzz: ${n} requests in ${seconds.toFixed(1)} s (seed ${seed}, outage on requests ${OUTAGE.from}-${OUTAGE.to}); answers ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    expect(n).toBeGreaterThanOrEqual(RUNS);
    expect(health.status).toBe(200);
    expect(api.child.exitCode).toBeNull();
    expect([...statuses.keys()].some((k) => k.startsWith('503'))).toBe(true); // the outage was seen
    expect(api.logs()).not.toMatch(/unhandled error/);
  }, 180_000);
});
