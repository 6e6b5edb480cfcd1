import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BODY_LIMIT_BYTES } from '../../functions/api/routes/api';

/** One way the API is served, started with extra environment (feature flags, version). */
export interface ContractHost {
  /**
   * Sends one request; the body is sent as bytes exactly as given (no Content-Type added). A header
   * given as a list is sent as that many header lines (RFC 9110 §5.3).
   */
  request(method: string, path: string, body?: Uint8Array | ReadableStream<Uint8Array>, headers?: HeaderLines): Promise<Response>;
  stop(): Promise<void>;
  /** The base URL (`http://127.0.0.1:<port>`) of a host served over HTTP, for raw-socket tests. */
  url?: string;
}

/** Request headers by name; a list is sent as one header line per element. */
export type HeaderLines = Record<string, string | readonly string[]>;

/** Starts a fresh host (with its own empty database) with these variables on top of its defaults. */
export type StartHost = (env: Record<string, string>) => Promise<ContractHost>;

/** The environment every host in the suite starts with; /api/info must report it. */
export const CONTRACT_ENV = { K_REVISION: 'tasks-api-00007', APP_VERSION: '9.9.9' };

/** Text of many scripts that must come back byte for byte: no normalisation, no replacement. */
export const TEXT_SAMPLES: string[] = [
  '中文任务：买牛乳 𠀀𪚥', // CJK, with characters outside the BMP
  '日本語のタスク ｶﾀｶﾅ',
  '한국어 할 일 ᄒᆞᆫ', // precomposed Hangul and conjoining jamo
  'हिन्दी कार्य', // Devanagari with combining signs
  'งานภาษาไทย',
  'Ελληνικά Кириллица Ա',
  'e\u0301 decomposed vs \u00e9 composed', // NFD and NFC stay as sent
  '👩🏽‍💻 🏳️‍🌈 🇺🇦 1️⃣', // skin tone, ZWJ, flag, keycap sequences
  '𝄞 𝕋𝕒𝕤𝕜 \u{10ffff}', // astral planes up to the last code point
  'zero\u200bwidth \u2028line separator\ufeffBOM inside \uffff',
];

/** Bodies that are not valid UTF-8: refused (400 validation_error), never stored as U+FFFD. */
export const INVALID_UTF8_BODIES: Array<[string, Uint8Array<ArrayBuffer>]> = [
  ['a lone 0xFF byte', utf8Body('{"task":"a', [0xff], 'b"}')],
  ['a truncated sequence', utf8Body('{"task":"euro ', [0xe2, 0x82], '"}')],
  ['an overlong "/"', utf8Body('{"task":"', [0xc0, 0xaf], '"}')],
  ['an encoded surrogate (CESU-8)', utf8Body('{"task":"', [0xed, 0xa0, 0x80], '"}')],
  ['a code point above U+10FFFF', utf8Body('{"task":"', [0xf4, 0x90, 0x80, 0x80], '"}')],
];

/** JSON that decodes to a lone UTF-16 surrogate: not Unicode text, refused like invalid UTF-8. */
export const LONE_SURROGATE_BODIES: Array<[string, string]> = [
  ['a lone high surrogate', '{"task":"a\\ud800b"}'],
  ['a lone low surrogate', '{"task":"\\udc00"}'],
  ['a pair in the wrong order', '{"task":"\\udc00\\ud800"}'],
  ['half an emoji at the end', '{"task":"smile \\ud83d"}'],
];
export const LONE_SURROGATE_MESSAGE = 'task must be Unicode text (it contains a lone surrogate)';

function utf8Body(before: string, bytes: number[], after: string): Uint8Array<ArrayBuffer> {
  const enc = new TextEncoder();
  return new Uint8Array([...enc.encode(before), ...bytes, ...enc.encode(after)]);
}

/**
 * The HTTP contract, row by row: every route and every bad input, exact status and body. Run
 * against every way the API is served — in-process on each driver (functions/api/contract.*.test.ts)
 * and over real HTTP under the bundle, `npm start`, `npm run dev` and nginx (test/contract/) — so
 * what holds for one host holds for all. Rows use only the API itself (no database access), and
 * ids relative to the tasks they create, so they hold on any host and database.
 */
export function describeApiContract(
  hostName: string,
  driverName: 'pg' | 'neon' | 'pglite',
  start: StartHost,
  /** False behind nginx: the web tier answers its own /healthz and never exposes the API's probes or metrics. */
  { probes = true }: { probes?: boolean } = {},
) {
  describe(`API contract: ${hostName}`, () => {
    let host: ContractHost;

    const call = async (method: string, path: string, body?: unknown, headers: HeaderLines = {}) => {
      const h: HeaderLines = { ...headers };
      let bytes: Uint8Array | undefined;
      if (body !== undefined) {
        bytes = body instanceof Uint8Array ? body : new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body));
        h['content-type'] ??= 'application/json';
      }
      const res = await host.request(method, path, bytes, h);
      const text = await res.text();
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text, headers: res.headers };
    };
    const list = async () => (await call('GET', '/api/tasks?limit=1000')).json.tasks as { id: number; task: string }[];
    const count = async () => (await list()).length;
    const add = async (task: string) => (await call('POST', '/api/tasks', { task })).json.task;
    const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

    beforeAll(async () => {
      host = await start(CONTRACT_ENV);
    });
    afterAll(async () => host?.stop());
    beforeEach(async () => {
      for (const t of await list()) expect((await call('DELETE', `/api/tasks/${t.id}`)).status).toBe(200);
    });

    it('GET /api/ answers the connectivity check', async () => {
      const r = await call('GET', '/api/');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ message: 'Task API is running' });
    });

    it('GET /api/tasks on an empty table', async () => {
      const r = await call('GET', '/api/tasks');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ success: true, tasks: [], nextCursor: null });
    });

    it("POST /api/tasks creates a task with the previous system's shape and timestamps", async () => {
      const r = await call('POST', '/api/tasks', { task: 'Buy milk' });
      expect(r.status).toBe(201);
      expect(r.json).toEqual({
        success: true,
        message: 'Task added successfully',
        task: { id: expect.any(Number), task: 'Buy milk', done: false, createdAt: expect.stringMatching(ISO), updatedAt: expect.stringMatching(ISO), position: 'a0', version: 1 },
      });
      expect(r.headers.get('etag')).toBe('"1"');
      expect(await count()).toBe(1);
    });

    it('stores text exactly as sent: quotes, SQL, emoji, RTL, spaces, 255 characters', async () => {
      const samples = [
        `It's "quoted" \\ back\\slash`,
        "'); DROP TABLE main_table; --",
        'Emoji 👩🏽‍💻🚀 and ZWJ',
        'مهمة جديدة עם טקסט',
        '  padded with spaces  ',
        '🙂'.repeat(255), // 255 characters, 510 UTF-16 units
        'x'.repeat(255),
        'line\nbreak\ttab',
      ];
      for (const text of samples) {
        const created = await call('POST', '/api/tasks', { task: text });
        expect(created.status, text).toBe(201);
        expect(created.json.task.task).toBe(text);
        const got = await call('GET', `/api/tasks/${created.json.task.id}`);
        expect(got.json.task.task).toBe(text);
      }
      expect(await count()).toBe(samples.length);
    });

    it('stores text of any script byte for byte, sent as raw UTF-8', async () => {
      for (const text of TEXT_SAMPLES) {
        const created = await call('POST', '/api/tasks', new TextEncoder().encode(JSON.stringify({ task: text })));
        expect(created.status, text).toBe(201);
        const got = await call('GET', `/api/tasks/${created.json.task.id}`);
        expect(got.json.task.task, text).toBe(text);
        // The answer carries the same UTF-8 bytes (JSON.stringify escapes none of these characters).
        expect(Buffer.from(got.text).includes(Buffer.from(JSON.stringify(text).slice(1, -1))), text).toBe(true);
      }
      expect(await count()).toBe(TEXT_SAMPLES.length);
    });

    it.each(INVALID_UTF8_BODIES)('POST, PUT and PATCH with %s in the body → 400 and nothing written', async (_name, body) => {
      const t = await add('unchanged');
      for (const [method, path] of [['POST', '/api/tasks'], ['PUT', `/api/tasks/${t.id}`], ['PATCH', `/api/tasks/${t.id}`]]) {
        const r = await call(method!, path!, body);
        expect(r.status, method).toBe(400);
        expect(r.json).toEqual({ success: false, message: 'The request body is not valid UTF-8', code: 'validation_error' });
      }
      expect(await count()).toBe(1);
      expect((await call('GET', `/api/tasks/${t.id}`)).json.task.task).toBe('unchanged');
    });

    it.each(LONE_SURROGATE_BODIES)('POST, PUT and PATCH with %s → 400 and nothing written', async (_name, body) => {
      const t = await add('unchanged');
      for (const [method, path] of [['POST', '/api/tasks'], ['PUT', `/api/tasks/${t.id}`], ['PATCH', `/api/tasks/${t.id}`]]) {
        const r = await call(method!, path!, body);
        expect(r.status, method).toBe(400);
        expect(r.json).toEqual({ success: false, message: LONE_SURROGATE_MESSAGE, code: 'validation_error' });
      }
      expect(await count()).toBe(1);
      expect((await call('GET', `/api/tasks/${t.id}`)).json.task.task).toBe('unchanged');
    });

    it('GET /api/tasks lists in ascending id order', async () => {
      const ids: number[] = [];
      for (const t of ['a', 'b', 'c']) ids.push((await add(t)).id);
      const r = await call('GET', '/api/tasks');
      expect(r.json.tasks.map((t: { task: string }) => t.task)).toEqual(['a', 'b', 'c']);
      expect(r.json.tasks.map((t: { id: number }) => t.id)).toEqual(ids);
      expect([...ids].sort((x, y) => x - y)).toEqual(ids);
      expect(r.json.nextCursor).toBeNull();
    });

    it('pages with ?limit and ?cursor (keyset)', async () => {
      for (let i = 1; i <= 5; i++) await add(`t${i}`);
      const p1 = await call('GET', '/api/tasks?limit=2');
      expect(p1.json.tasks.map((t: { task: string }) => t.task)).toEqual(['t1', 't2']);
      expect(typeof p1.json.nextCursor).toBe('string');
      const p2 = await call('GET', `/api/tasks?limit=2&cursor=${p1.json.nextCursor}`);
      expect(p2.json.tasks.map((t: { task: string }) => t.task)).toEqual(['t3', 't4']);
      const p3 = await call('GET', `/api/tasks?limit=2&cursor=${p2.json.nextCursor}`);
      expect(p3.json.tasks.map((t: { task: string }) => t.task)).toEqual(['t5']);
      expect(p3.json.nextCursor).toBeNull();
      const exact = await call('GET', '/api/tasks?limit=5');
      expect(exact.json.tasks).toHaveLength(5);
      expect(exact.json.nextCursor).toBeNull();
    });

    it.each([
      ['limit=0', 'limit must be an integer from 1 to 1000'],
      ['limit=1001', 'limit must be an integer from 1 to 1000'],
      ['limit=abc', 'limit must be an integer from 1 to 1000'],
      ['limit=-1', 'limit must be an integer from 1 to 1000'],
      ['cursor=xyz', 'cursor is not valid; use the nextCursor of a previous page'],
      ['cursor=99999999999999999', 'cursor is not valid; use the nextCursor of a previous page'],
      ['limit=1&limit=2', 'limit must be given once'],
    ])('GET /api/tasks?%s → 400', async (query, message) => {
      const r = await call('GET', `/api/tasks?${query}`);
      expect(r.status).toBe(400);
      expect(r.json).toEqual({ success: false, message, code: 'validation_error' });
    });

    it('GET /api/tasks/:id returns one task, 404 when missing', async () => {
      const t = await add('one');
      const r = await call('GET', `/api/tasks/${t.id}`);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ success: true, task: t });
      const missing = await call('GET', `/api/tasks/${t.id + 1000}`);
      expect(missing.status).toBe(404);
      expect(missing.json).toEqual({ success: false, message: 'Task not found', code: 'not_found' });
    });

    it.each([
      ['abc', 'id must be a positive integer'],
      ['1.5', 'id must be a positive integer'],
      ['-1', 'id must be a positive integer'],
      ['1e3', 'id must be a positive integer'],
      ['0', 'id must be between 1 and 9007199254740991'],
      ['9007199254740992', 'id must be between 1 and 9007199254740991'],
      ['99999999999999999999999', 'id must be between 1 and 9007199254740991'],
    ])('non-integer or out-of-range id %s → 400 on every method', async (id, message) => {
      await add('keep me');
      for (const [method, body] of [['GET'], ['PUT', { task: 'x' }], ['PATCH', { done: true }], ['DELETE']] as const) {
        const r = await call(method, `/api/tasks/${id}`, body);
        expect(r.status, `${method} ${id}`).toBe(400);
        expect(r.json).toEqual({ success: false, message, code: 'validation_error' });
      }
      expect(await count()).toBe(1);
    });

    it.each([
      ['missing task', {}, 'task is required'],
      ['empty task', { task: '' }, 'task must not be empty'],
      ['whitespace-only task', { task: ' \t\n ' }, 'task must not be empty'],
      ['256 characters', { task: 'x'.repeat(256) }, 'task must be at most 255 characters'],
      ['256 emoji characters', { task: '🙂'.repeat(256) }, 'task must be at most 255 characters'],
      ['a number', { task: 42 }, 'task must be a string'],
      ['null', { task: null }, 'task must be a string'],
      ['a NUL character', { task: 'a\u0000b' }, 'task must not contain NUL characters'],
      ['a JSON array', [{ task: 'x' }], 'request body must be a JSON object'],
      ['a JSON string', '"just text"', 'request body must be a JSON object'],
    ])('POST with %s → 400 and nothing written', async (_name, body, message) => {
      const r = await call('POST', '/api/tasks', body);
      expect(r.status).toBe(400);
      expect(r.json).toEqual({ success: false, message, code: 'validation_error' });
      expect(await count()).toBe(0);
    });

    it('malformed JSON → 400', async () => {
      for (const raw of ['{"task": "x"', '{task: x}', '']) {
        const r = await call('POST', '/api/tasks', raw);
        expect(r.status, raw).toBe(400);
        expect(r.json).toEqual({ success: false, message: 'The request body is not valid JSON', code: 'malformed_json' });
      }
      expect(await count()).toBe(0);
    });

    it('wrong or missing content type → 415', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'application/jsonx', undefined]) {
        const headers: Record<string, string> = type ? { 'content-type': type } : {};
        const r = await host.request('POST', '/api/tasks', new TextEncoder().encode(JSON.stringify({ task: 'x' })), headers);
        expect(r.status, String(type)).toBe(415);
        expect(await r.json()).toEqual({
          success: false,
          message: 'Send the body as JSON with Content-Type: application/json',
          code: 'unsupported_media_type',
        });
      }
      expect(await count()).toBe(0);
    });

    it('a body with a content coding (gzip, br, …) → 415 with Accept-Encoding: identity, nothing written', async () => {
      const t = await add('unchanged');
      const plain = new TextEncoder().encode(JSON.stringify({ task: 'labelled' }));
      const gzipped = new Uint8Array(gzipSync(plain));
      for (const [method, path] of [['POST', '/api/tasks'], ['PUT', `/api/tasks/${t.id}`], ['PATCH', `/api/tasks/${t.id}`]] as const) {
        // A real gzip body, and plain JSON labelled with a coding it does not have.
        for (const [coding, body] of [['gzip', gzipped], ['gzip', plain], ['br', plain], ['GZIP', plain], ['identity, gzip', plain], ['x-unknown', plain]] as const) {
          const r = await host.request(method, path, body, { 'content-type': 'application/json', 'content-encoding': coding });
          expect(r.status, `${method} ${coding}`).toBe(415);
          expect(r.headers.get('accept-encoding'), `${method} ${coding}`).toBe('identity');
          expect(await r.json()).toEqual({
            success: false,
            message: 'Send the body without a content coding: Content-Encoding must be absent or identity',
            code: 'unsupported_media_type',
          });
        }
      }
      expect(await list()).toEqual([t]);
      const identity = await call('POST', '/api/tasks', { task: 'as sent' }, { 'content-encoding': 'identity' });
      expect(identity.status).toBe(201);
      expect(identity.json.task.task).toBe('as sent');
    });

    it.each([
      'application/json; charset=utf-8',
      'application/json ; charset=utf-8',
      'application/json;',
      'APPLICATION/JSON',
      'Application/Json; Charset="UTF-8"',
      'application/merge-patch+json',
    ])('any JSON media type RFC 9110 allows is accepted: %s', async (type) => {
      const r = await call('POST', '/api/tasks', { task: type }, { 'content-type': type });
      expect(r.status).toBe(201);
      expect(r.json.task.task).toBe(type);
    });

    it('a chunked body (no Content-Length) is read and limited like any other', async () => {
      const chunked = (...parts: string[]) =>
        new ReadableStream<Uint8Array>({
          start(controller) {
            for (const p of parts) controller.enqueue(new TextEncoder().encode(p));
            controller.close();
          },
        });
      const ok = await host.request('POST', '/api/tasks', chunked('{"task":', '"sent in chunks"}'), { 'content-type': 'application/json' });
      expect(ok.status).toBe(201);
      expect((await ok.json()).task.task).toBe('sent in chunks');
      const big = await host.request('POST', '/api/tasks', chunked('{"task":"x","pad":"', 'y'.repeat(BODY_LIMIT_BYTES), '"}'), { 'content-type': 'application/json' });
      expect(big.status).toBe(413);
      expect((await big.json()).code).toBe('payload_too_large');
      const bad = await host.request('POST', '/api/tasks', chunked('{"task":'), { 'content-type': 'application/json' });
      expect(bad.status).toBe(400);
      expect(await count()).toBe(1);
    });

    it(`body over ${BODY_LIMIT_BYTES} bytes → 413`, async () => {
      const r = await call('POST', '/api/tasks', { task: 'x', padding: 'y'.repeat(BODY_LIMIT_BYTES) });
      expect(r.status).toBe(413);
      expect(r.json).toEqual({ success: false, message: `The request body must be at most ${BODY_LIMIT_BYTES} bytes`, code: 'payload_too_large' });
      expect(await count()).toBe(0);
    });

    it('PUT /api/tasks/:id replaces the text', async () => {
      const t = await add('old');
      const r = await call('PUT', `/api/tasks/${t.id}`, { task: 'new' });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({
        success: true,
        message: 'Task updated successfully',
        task: { ...t, task: 'new', updatedAt: expect.stringMatching(ISO), version: 2 },
      });
      expect(r.headers.get('etag')).toBe('"2"');
      expect(r.json.task.updatedAt >= t.updatedAt).toBe(true);
      const missing = await call('PUT', `/api/tasks/${t.id + 1000}`, { task: 'x' });
      expect(missing.status).toBe(404);
      expect(missing.json.code).toBe('not_found');
    });

    it('PUT with bad input → 400/415 and the task is unchanged', async () => {
      const t = await add('keep');
      expect((await call('PUT', `/api/tasks/${t.id}`, { task: '   ' })).status).toBe(400);
      expect((await call('PUT', `/api/tasks/${t.id}`, {})).status).toBe(400);
      expect((await call('PUT', `/api/tasks/${t.id}`, { task: 'y'.repeat(256) })).status).toBe(400);
      expect((await call('PUT', `/api/tasks/${t.id}`, '{oops')).status).toBe(400);
      expect((await call('PUT', `/api/tasks/${t.id}`, 'task=x', { 'content-type': 'text/plain' })).status).toBe(415);
      expect((await call('GET', `/api/tasks/${t.id}`)).json.task).toEqual(t);
    });

    it('PATCH /api/tasks/:id marks done, changes text, or both', async () => {
      const t = await add('patch me');
      const done = await call('PATCH', `/api/tasks/${t.id}`, { done: true });
      expect(done.status).toBe(200);
      expect(done.json).toEqual({ success: true, message: 'Task updated successfully', task: { ...t, done: true, updatedAt: expect.stringMatching(ISO), version: 2 } });
      const both = await call('PATCH', `/api/tasks/${t.id}`, { task: 'patched', done: false });
      expect(both.json.task).toMatchObject({ id: t.id, task: 'patched', done: false, version: 3 });
      const text = await call('PATCH', `/api/tasks/${t.id}`, { task: 'only text' });
      expect(text.json.task).toMatchObject({ task: 'only text', done: false, version: 4 });
      expect(text.headers.get('etag')).toBe('"4"');
      expect((await call('PATCH', `/api/tasks/${t.id + 1000}`, { done: true })).status).toBe(404);
    });

    it('PATCH with nothing to change or wrong types → 400, unchanged', async () => {
      const t = await add('same');
      const empty = await call('PATCH', `/api/tasks/${t.id}`, {});
      expect(empty.status).toBe(400);
      expect(empty.json).toEqual({ success: false, message: 'send task, done or position', code: 'validation_error' });
      const wrong = await call('PATCH', `/api/tasks/${t.id}`, { done: 'yes' });
      expect(wrong.status).toBe(400);
      expect(wrong.json).toEqual({ success: false, message: 'done must be true or false', code: 'validation_error' });
      expect((await call('PATCH', `/api/tasks/${t.id}`, { task: '' })).status).toBe(400);
      expect((await call('GET', `/api/tasks/${t.id}`)).json.task).toEqual(t);
    });

    it('PATCH /api/tasks (toggle all) marks the named tasks done or not done in one write', async () => {
      const [a, b, c] = [await add('one'), await add('two'), await add('three')];
      const missing = c.id + 1000;
      const r = await call('PATCH', '/api/tasks', { ids: [b.id, a.id, missing], done: true });
      expect(r.status).toBe(200);
      // Every named task that exists, ascending id, version + 1 where it changed; a missing id is left out.
      expect(r.json).toEqual({
        success: true,
        message: 'Tasks updated successfully',
        tasks: [
          { ...a, done: true, updatedAt: expect.stringMatching(ISO), version: 2 },
          { ...b, done: true, updatedAt: expect.stringMatching(ISO), version: 2 },
        ],
      });
      expect((await call('GET', `/api/tasks/${c.id}`)).json.task).toEqual(c);
      // Already done: nothing changes, not even the version or updatedAt.
      const again = await call('PATCH', '/api/tasks', { ids: [a.id, b.id], done: true });
      expect(again.json.tasks).toEqual(r.json.tasks);
      const undone = await call('PATCH', '/api/tasks', { ids: [a.id, c.id], done: false });
      expect(undone.json.tasks).toEqual([
        { ...r.json.tasks[0], done: false, updatedAt: expect.stringMatching(ISO), version: 3 },
        { ...c, version: 1 },
      ]);
      expect((await list()).map((t) => [t.task, (t as { done?: boolean }).done])).toEqual([['one', false], ['two', true], ['three', false]]);
      expect((await call('PATCH', '/api/tasks', { ids: [missing], done: true })).json).toEqual({ success: true, message: 'Tasks updated successfully', tasks: [] });
    });

    it('PATCH /api/tasks with bad input or too many ids → 400/413, nothing written', async () => {
      const t = await add('stays');
      const tooMany = Array.from({ length: 1001 }, (_, i) => t.id + i);
      for (const [body, message] of [
        [{}, 'ids is required'],
        [{ done: true }, 'ids is required'],
        [{ ids: [t.id] }, 'done is required'],
        [{ ids: [t.id], done: 'yes' }, 'done must be true or false'],
        [{ ids: [], done: true }, 'ids must name at least one task'],
        [{ ids: String(t.id), done: true }, 'ids must be an array of task ids'],
        [{ ids: [t.id, 0], done: true }, `ids must be task ids (integers from 1 to ${2 ** 53 - 1})`],
        [{ ids: [t.id, 1.5], done: true }, `ids must be task ids (integers from 1 to ${2 ** 53 - 1})`],
        [{ ids: [String(t.id)], done: true }, `ids must be task ids (integers from 1 to ${2 ** 53 - 1})`],
        [{ ids: [t.id, 2 ** 53], done: true }, `ids must be task ids (integers from 1 to ${2 ** 53 - 1})`],
        [{ ids: tooMany, done: true }, 'ids must name at most 1000 tasks'],
        [{ ids: [t.id, t.id], done: true }, 'ids must name each id once'],
        [[t.id], 'request body must be a JSON object'],
      ] as const) {
        const r = await call('PATCH', '/api/tasks', body);
        expect([r.status, r.json], JSON.stringify(body).slice(0, 60)).toEqual([400, { success: false, message, code: 'validation_error' }]);
      }
      // Past the body limit first: 413 before anything is parsed.
      const hugeBody = { ids: Array.from({ length: 2000 }, (_, i) => 1e12 + i), done: true };
      expect(JSON.stringify(hugeBody).length).toBeGreaterThan(BODY_LIMIT_BYTES);
      const huge = await call('PATCH', '/api/tasks', hugeBody);
      expect([huge.status, huge.json?.code]).toEqual([413, 'payload_too_large']);
      expect((await call('PATCH', '/api/tasks', 'not json')).status).toBe(400);
      expect((await call('PATCH', '/api/tasks', { ids: [t.id], done: true }, { 'content-type': 'text/plain' })).status).toBe(415);
      expect((await call('GET', `/api/tasks/${t.id}`)).json.task).toEqual(t);
      // The documented bound itself is accepted.
      const bound = await call('PATCH', '/api/tasks', { ids: tooMany.slice(0, 1000), done: true });
      expect([bound.status, bound.json.tasks.map((x: { id: number }) => x.id)]).toEqual([200, [t.id]]);
    });

    describe('order: position, ?order=position, moves', () => {
      const byPosition = async (query = '') => (await call('GET', `/api/tasks?order=position${query}`)).json;
      const texts = (tasks: { task: string }[]) => tasks.map((t) => t.task);

      it('a new task goes last; ?order=position lists by position then id, ?order=id and no order by id', async () => {
        const [a, b, c] = [await add('a'), await add('b'), await add('c')];
        expect([a.position, b.position, c.position]).toEqual(['a0', 'a1', 'a2']);
        // Move c first: one PATCH of its position, between nothing and a.
        const moved = await call('PATCH', `/api/tasks/${c.id}`, { position: 'Zz' }, { 'if-match': `"${c.version}"` });
        expect([moved.status, moved.json.task]).toEqual([200, { ...c, position: 'Zz', updatedAt: expect.stringMatching(ISO), version: 2 }]);
        expect(moved.headers.get('etag')).toBe('"2"');
        expect(texts((await byPosition()).tasks)).toEqual(['c', 'a', 'b']);
        expect(texts((await call('GET', '/api/tasks')).json.tasks)).toEqual(['a', 'b', 'c']);
        expect(texts((await call('GET', '/api/tasks?order=id')).json.tasks)).toEqual(['a', 'b', 'c']);
        // The others did not change: a move writes one row.
        expect((await call('GET', `/api/tasks/${a.id}`)).json.task).toEqual(a);
        expect((await call('GET', `/api/tasks/${b.id}`)).json.task).toEqual(b);
        // Two tasks at one position are ordered by id; a new task still goes after the last.
        await call('PATCH', `/api/tasks/${b.id}`, { position: 'a0' });
        expect(texts((await byPosition()).tasks)).toEqual(['c', 'a', 'b']);
        expect((await add('d')).position).toBe('a1');
        // A stale If-Match on a move: 412, nothing written.
        const stale = await call('PATCH', `/api/tasks/${a.id}`, { position: 'a5' }, { 'if-match': '"7"' });
        expect([stale.status, stale.json.code]).toEqual([412, 'precondition_failed']);
        expect((await call('GET', `/api/tasks/${a.id}`)).json.task).toEqual(a);
      });

      it('pages in position order with ?limit and its own cursor (position.id)', async () => {
        const made = [];
        for (let i = 1; i <= 5; i++) made.push(await add(`t${i}`));
        // t5 between t1 and t2, t4 first: t4 t1 t5 t2 t3.
        await call('PATCH', `/api/tasks/${made[4].id}`, { position: 'a0V' });
        await call('PATCH', `/api/tasks/${made[3].id}`, { position: 'Zz' });
        const p1 = await byPosition('&limit=2');
        expect(texts(p1.tasks)).toEqual(['t4', 't1']);
        expect(p1.nextCursor).toBe(`a0.${made[0].id}`);
        const p2 = await byPosition(`&limit=2&cursor=${p1.nextCursor}`);
        expect(texts(p2.tasks)).toEqual(['t5', 't2']);
        const p3 = await byPosition(`&limit=2&cursor=${p2.nextCursor}`);
        expect([texts(p3.tasks), p3.nextCursor]).toEqual([['t3'], null]);
      });

      it.each([
        ['order=name', 'order must be id or position'],
        ['order=position&cursor=17', 'cursor is not valid; use the nextCursor of a previous page'],
        ['order=position&cursor=a0.x', 'cursor is not valid; use the nextCursor of a previous page'],
        ['order=position&cursor=a00.1', 'cursor is not valid; use the nextCursor of a previous page'],
        ['order=position&cursor=a0.99999999999999999', 'cursor is not valid; use the nextCursor of a previous page'],
        ['cursor=a0.1', 'cursor is not valid; use the nextCursor of a previous page'],
        ['order=id&order=position', 'order must be given once'],
      ])('GET /api/tasks?%s → 400', async (query, message) => {
        const r = await call('GET', `/api/tasks?${query}`);
        expect([r.status, r.json]).toEqual([400, { success: false, message, code: 'validation_error' }]);
      });

      it('PATCH with a bad position → 400, nothing written', async () => {
        const t = await add('stays');
        for (const [position, message] of [
          ['', 'position is not a valid position key'],
          ['a00', 'position is not a valid position key'],
          ['a0-1', 'position is not a valid position key'],
          ['b1', 'position is not a valid position key'],
          [`a0${'V'.repeat(300)}`, 'position must be at most 255 characters'],
          [3, 'position must be a string'],
          [null, 'position must be a string'],
        ] as const) {
          const r = await call('PATCH', `/api/tasks/${t.id}`, { position });
          expect([r.status, r.json], JSON.stringify(position)).toEqual([400, { success: false, message, code: 'validation_error' }]);
        }
        expect((await call('GET', `/api/tasks/${t.id}`)).json.task).toEqual(t);
      });

      it('at the ends of the key space every key stays valid: creates after the largest, cursors, moves; no room left → 400', async () => {
        const largest = `z${'z'.repeat(26)}`;
        const [a, b] = [await add('first'), await add('second')];
        expect((await call('PATCH', `/api/tasks/${a.id}`, { position: largest })).status).toBe(200);
        // A new task after the largest integer part: the key after it, not "{000…".
        const c = await add('after the largest');
        expect(c.position).toBe(`${largest}V`);
        const p1 = await byPosition('&limit=2');
        expect([texts(p1.tasks), p1.nextCursor]).toEqual([['second', 'first'], `${largest}.${a.id}`]);
        const p2 = await byPosition(`&limit=2&cursor=${p1.nextCursor}`);
        expect([texts(p2.tasks), p2.nextCursor]).toEqual([['after the largest'], null]);
        // Below the smallest keys a move still has a key: just above A000…0 with a fraction.
        const lowest = `A${'0'.repeat(25)}1`;
        expect((await call('PATCH', `/api/tasks/${b.id}`, { position: lowest })).status).toBe(200);
        expect((await call('PATCH', `/api/tasks/${c.id}`, { position: `A${'0'.repeat(26)}V` })).status).toBe(200);
        expect(texts((await byPosition()).tasks)).toEqual(['after the largest', 'second', 'first']);
        // The largest key there is: nothing goes after it, so a create is refused and writes nothing.
        expect((await call('PATCH', `/api/tasks/${a.id}`, { position: 'z'.repeat(255) })).status).toBe(200);
        for (const headers of [{}, { 'idempotency-key': `"${randomUUID()}"` }] as HeaderLines[]) {
          const refused = await call('POST', '/api/tasks', { task: 'no room' }, headers);
          expect([refused.status, refused.json.code]).toEqual([400, 'validation_error']);
        }
        expect(texts((await byPosition()).tasks)).toEqual(['after the largest', 'second', 'first']);
      });

      it('a keyed move replays its answer and writes once', async () => {
        const t = await add('move once');
        const key = { 'idempotency-key': `"${randomUUID()}"`, 'if-match': '"1"' };
        const first = await call('PATCH', `/api/tasks/${t.id}`, { position: 'a0V' }, key);
        const again = await call('PATCH', `/api/tasks/${t.id}`, { position: 'a0V' }, key);
        expect([first.status, again.status, again.headers.get('idempotent-replayed')]).toEqual([200, 200, 'true']);
        expect(again.text).toBe(first.text);
        expect((await call('GET', `/api/tasks/${t.id}`)).json.task.version).toBe(2);
      });
    });

    describe('POST /api/tasks/restore (Undo of a delete)', () => {
      const restore = (ids: number[], headers: HeaderLines = {}) => call('POST', '/api/tasks/restore', { tasks: ids.map((id) => ({ id })) }, headers);

      it('puts deleted tasks back by id with their text, done and position; one key restores once', async () => {
        const [a, b, c] = [await add('one'), await add('two'), await add('three')];
        const doneB = (await call('PATCH', `/api/tasks/${b.id}`, { done: true, position: 'Zz' })).json.task;
        for (const t of [a, doneB]) expect((await call('DELETE', `/api/tasks/${t.id}`)).status).toBe(200);
        const key = { 'idempotency-key': `"${randomUUID()}"` };
        const r = await restore([doneB.id, a.id], key);
        expect(r.status).toBe(200);
        expect(r.json).toEqual({
          success: true,
          message: 'Tasks restored successfully',
          tasks: [
            { ...a, updatedAt: expect.stringMatching(ISO), version: 2 },
            { ...doneB, updatedAt: expect.stringMatching(ISO), version: 3 },
          ],
        });
        expect((await call('GET', '/api/tasks?order=position')).json.tasks.map((t: { task: string }) => t.task)).toEqual(['two', 'one', 'three']);
        // The same key again: the same answer, nothing written twice.
        const again = await restore([doneB.id, a.id], key);
        expect([again.status, again.text, again.headers.get('idempotent-replayed')]).toEqual([200, r.text, 'true']);
        // Without a key: an id already restored, one never deleted, one never handed out are left out.
        const other = await restore([a.id, c.id, c.id + 1000]);
        expect([other.status, other.json.tasks]).toEqual([200, []]);
        expect((await call('GET', `/api/tasks/${c.id}`)).json.task).toEqual(c);
        expect(await count()).toBe(3);
        // A new task after a restore gets a new id, never a restored one's.
        expect((await add('four')).id).toBe(c.id + 1);
      });

      it("restores the database's task, not the client's copy: fields sent besides the id are ignored", async () => {
        const t = await add('as first written');
        const edited = (await call('PATCH', `/api/tasks/${t.id}`, { task: 'edited in another tab', done: true }, { 'if-match': '"1"' })).json.task;
        expect((await call('DELETE', `/api/tasks/${t.id}`)).status).toBe(200);
        // A tab that still holds version 1 sends its stale copy back.
        const r = await call('POST', '/api/tasks/restore', { tasks: [{ ...t, task: 'stale copy', version: 1 }] });
        expect([r.status, r.json.tasks]).toEqual([200, [{ ...edited, updatedAt: expect.stringMatching(ISO), version: 3 }]]);
        expect((await call('GET', `/api/tasks/${t.id}`)).json.task.task).toBe('edited in another tab');
      });

      it('the restored task is at a version it never had: an old If-Match fails with 412', async () => {
        const t = await add('versions');
        const v2 = (await call('PUT', `/api/tasks/${t.id}`, { task: 'versions 2' })).json.task;
        expect((await call('DELETE', `/api/tasks/${t.id}`, undefined, { 'if-match': '"2"' })).status).toBe(200);
        const back = (await restore([t.id])).json.tasks[0];
        expect([back.task, back.version]).toEqual([v2.task, 3]);
        for (const old of ['"1"', '"2"']) {
          const stale = await call('PATCH', `/api/tasks/${t.id}`, { done: true }, { 'if-match': old });
          expect([stale.status, stale.json.code, stale.headers.get('etag')]).toEqual([412, 'precondition_failed', '"3"']);
          expect((await call('DELETE', `/api/tasks/${t.id}`, undefined, { 'if-match': old })).status).toBe(412);
        }
        expect((await call('PATCH', `/api/tasks/${t.id}`, { done: true }, { 'if-match': '"3"' })).json.task.version).toBe(4);
        // Deleted and restored again: one more than the last version, again.
        expect((await call('DELETE', `/api/tasks/${t.id}`)).status).toBe(200);
        expect((await restore([t.id])).json.tasks.map((x: { version: number }) => x.version)).toEqual([5]);
      });

      it('bad input or too many ids → 400/413, nothing written', async () => {
        const t = await add('gone');
        expect((await call('DELETE', `/api/tasks/${t.id}`)).status).toBe(200);
        const ok = { id: t.id };
        const ID = `id must be a task id (an integer from 1 to ${2 ** 53 - 1})`;
        for (const [body, message] of [
          [{}, 'tasks is required'],
          [{ tasks: ok }, 'tasks must be an array of tasks'],
          [{ tasks: [] }, 'tasks must hold at least one task'],
          [{ tasks: [ok, ok] }, 'tasks must name each id once'],
          [{ tasks: [ok, { id: 0 }] }, ID],
          [{ tasks: [{ id: 2 ** 53 }] }, ID],
          [{ tasks: [{ id: 1.5 }] }, ID],
          [{ tasks: [{ id: String(t.id) }] }, ID],
          [{ tasks: [{}] }, ID],
          [{ tasks: [t.id] }, 'tasks must be objects with an id'],
          [{ tasks: [ok, ...Array.from({ length: 1000 }, (_, i) => ({ id: t.id + 1 + i }))] }, 'tasks must hold at most 1000 tasks'],
          [[ok], 'request body must be a JSON object'],
        ] as const) {
          const r = await call('POST', '/api/tasks/restore', body);
          expect([r.status, r.json], JSON.stringify(body).slice(0, 80)).toEqual([400, { success: false, message, code: 'validation_error' }]);
        }
        // Too many by size: 1000 ids of 16 digits pass the body limit.
        const huge = await restore(Array.from({ length: 1000 }, (_, i) => 2 ** 52 + i));
        expect([huge.status, huge.json?.code]).toEqual([413, 'payload_too_large']);
        expect((await call('POST', '/api/tasks/restore', 'not json')).status).toBe(400);
        expect((await call('POST', '/api/tasks/restore', { tasks: [ok] }, { 'content-type': 'text/plain' })).status).toBe(415);
        expect(await count()).toBe(0);
        // The record was left alone: the task can still be restored.
        expect((await restore([t.id])).json.tasks.map((x: { task: string }) => x.task)).toEqual(['gone']);
      });
    });

    it('DELETE /api/tasks/:id deletes once, then 404', async () => {
      const t = await add('bye');
      const r = await call('DELETE', `/api/tasks/${t.id}`);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ success: true, message: 'Task deleted successfully', id: t.id });
      expect((await call('GET', `/api/tasks/${t.id}`)).status).toBe(404);
      const again = await call('DELETE', `/api/tasks/${t.id}`);
      expect(again.status).toBe(404);
      expect(again.json).toEqual({ success: false, message: 'Task not found', code: 'not_found' });
    });

    describe('Idempotency-Key on writes', () => {
      const key = () => `"${randomUUID()}"`;
      const keyed = (method: string, path: string, k: string, body?: unknown) => call(method, path, body, { 'idempotency-key': k });

      it('a repeat answers the stored status and body, marked Idempotent-Replayed, and writes nothing', async () => {
        const k = key();
        const first = await keyed('POST', '/api/tasks', k, { task: 'Pay rent' });
        expect(first.status).toBe(201);
        expect(first.headers.get('idempotent-replayed')).toBeNull();
        for (let i = 0; i < 3; i++) {
          const again = await keyed('POST', '/api/tasks', k, { task: 'Pay rent' });
          expect(again.status).toBe(201);
          expect(again.text).toBe(first.text);
          expect(again.headers.get('idempotent-replayed')).toBe('true');
          expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
        }
        expect(await count()).toBe(1);
        // PUT, PATCH and DELETE the same way: the second DELETE answers 200 again, not 404.
        const id = first.json.task.id;
        // Toggle all the same way: the repeat is the stored answer, the versions do not move again.
        const k3 = key();
        const all = await keyed('PATCH', '/api/tasks', k3, { ids: [first.json.task.id], done: true });
        expect([all.status, all.json.tasks[0].done]).toEqual([200, true]);
        const allAgain = await keyed('PATCH', '/api/tasks', k3, { ids: [first.json.task.id], done: true });
        expect([allAgain.status, allAgain.text, allAgain.headers.get('idempotent-replayed')]).toEqual([200, all.text, 'true']);
        expect((await keyed('PATCH', '/api/tasks', k3, { ids: [first.json.task.id], done: false })).json.code).toBe('idempotency_key_reused');
        expect((await call('GET', `/api/tasks/${first.json.task.id}`)).json.task.done).toBe(true);
        for (const [method, body] of [['PUT', { task: 'Pay the rent' }], ['PATCH', { done: false }], ['DELETE', undefined]] as const) {
          const k2 = key();
          const once = await keyed(method, `/api/tasks/${id}`, k2, body);
          expect(once.status, method).toBe(200);
          const twice = await keyed(method, `/api/tasks/${id}`, k2, body);
          expect([twice.status, twice.text, twice.headers.get('idempotent-replayed')], method).toEqual([200, once.text, 'true']);
        }
        expect(await count()).toBe(0);
      });

      it('without a key every request runs, as before', async () => {
        expect((await call('POST', '/api/tasks', { task: 'twice' })).status).toBe(201);
        expect((await call('POST', '/api/tasks', { task: 'twice' })).status).toBe(201);
        expect(await count()).toBe(2);
      });

      it('the same key with another body, path or method → 422 idempotency_key_reused, nothing written', async () => {
        const k = key();
        const first = await keyed('POST', '/api/tasks', k, { task: 'one' });
        expect(first.status).toBe(201);
        const id = first.json.task.id;
        for (const [method, path, body] of [
          ['POST', '/api/tasks', { task: 'two' }],
          ['POST', '/api/tasks', { task: 'one', done: false }],
          ['PUT', `/api/tasks/${id}`, { task: 'one' }],
          ['DELETE', `/api/tasks/${id}`, undefined],
        ] as const) {
          const r = await keyed(method, path, k, body);
          expect(r.status, `${method} ${path}`).toBe(422);
          expect(r.json).toEqual({
            success: false,
            message: 'This Idempotency-Key was already used for a different request; send a new key with a new request',
            code: 'idempotency_key_reused',
          });
        }
        expect(await list()).toEqual([first.json.task]);
      });

      it.each([
        ['bare with a space', 'abc 123'],
        ['bare with a quote', 'abc"123'],
        ['empty', '""'],
        ['256 characters', `"${'k'.repeat(256)}"`],
        ['non-ASCII', '"clé"'],
        ['an unescaped quote', '"a"b"'],
        ['a lone backslash', '"a\\b"'],
        ['two keys', '"a", "b"'],
      ])('a key that is %s → 400 invalid_idempotency_key, nothing written', async (_name, k) => {
        const r = await keyed('POST', '/api/tasks', k, { task: 'never' });
        expect(r.status).toBe(400);
        expect(r.json).toEqual({
          success: false,
          message: 'Idempotency-Key must be 1 to 255 printable ASCII characters, bare or as one quoted string, for example "8e03978e-40d5-43e8-bc93-6894a57f9324"',
          code: 'invalid_idempotency_key',
        });
        expect(await count()).toBe(0);
      });

      it('accepts 255 characters with escapes, and tells keys apart exactly', async () => {
        const long = `"${randomUUID()}${'k'.repeat(217)}\\"\\\\"`;
        expect((await keyed('POST', '/api/tasks', long, { task: 'long key' })).status).toBe(201);
        expect((await keyed('POST', '/api/tasks', long, { task: 'long key' })).headers.get('idempotent-replayed')).toBe('true');
        const base = randomUUID();
        const upper = await keyed('POST', '/api/tasks', `"${base}-Case"`, { task: 'a' });
        const lower = await keyed('POST', '/api/tasks', `"${base}-case"`, { task: 'b' });
        expect([upper.status, lower.status, lower.headers.get('idempotent-replayed')]).toEqual([201, 201, null]);
        expect(await count()).toBe(3);
      });

      it('refusals before the database are not stored: the corrected request may reuse the key', async () => {
        const k = key();
        expect((await keyed('POST', '/api/tasks', k, { task: '   ' })).status).toBe(400);
        expect((await keyed('POST', '/api/tasks', k, '{broken')).status).toBe(400);
        expect((await call('POST', '/api/tasks', 'task=x', { 'idempotency-key': k, 'content-type': 'text/plain' })).status).toBe(415);
        const fixed = await keyed('POST', '/api/tasks', k, { task: 'fixed' });
        expect(fixed.status).toBe(201);
        expect(fixed.headers.get('idempotent-replayed')).toBeNull();
        expect(await count()).toBe(1);
      });

      it('answers that reached the database are stored, 404 included', async () => {
        const k = key();
        const missing = await keyed('PATCH', '/api/tasks/2147483647', k, { done: true });
        expect(missing.status).toBe(404);
        const again = await keyed('PATCH', '/api/tasks/2147483647', k, { done: true });
        expect([again.status, again.text, again.headers.get('idempotent-replayed')]).toEqual([404, missing.text, 'true']);
      });

      it('the OpenAPI document shows the header, 409 and 422 on every write', async () => {
        const doc = (await call('GET', '/api/openapi.json')).json;
        for (const [path, method] of [['/tasks', 'post'], ['/tasks', 'patch'], ['/tasks/{id}', 'put'], ['/tasks/{id}', 'patch'], ['/tasks/{id}', 'delete']] as const) {
          const op = doc.paths[path][method];
          expect(op.parameters, `${method} ${path}`).toContainEqual(
            expect.objectContaining({ name: 'idempotency-key', in: 'header', required: false }),
          );
          expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['409', '422']));
        }
        expect(doc.paths['/tasks'].get.parameters.some((p: { name: string }) => p.name === 'idempotency-key')).toBe(false);
      });
    });

    describe('If-Match on PUT, PATCH and DELETE (RFC 9110 §13.1.1)', () => {
      const PRECONDITION_FAILED = 'This task was changed since the version in If-Match; nothing was written. The task as it is now is in "task", its version in the ETag header';
      const INVALID = 'If-Match must be * or a comma-separated list of entity-tags, for example "3" (the task\'s ETag)';
      const writes = (id: number) =>
        [
          ['PUT', `/api/tasks/${id}`, { task: 'theirs' }],
          ['PATCH', `/api/tasks/${id}`, { done: true }],
          ['DELETE', `/api/tasks/${id}`, undefined],
        ] as const;
      /** A task at version 2: created, then changed once (by "someone else"). */
      const changedOnce = async () => {
        const t = await add('mine');
        const r = await call('PATCH', `/api/tasks/${t.id}`, { task: 'changed elsewhere' });
        expect(r.headers.get('etag')).toBe('"2"');
        return r.json.task as { id: number; version: number };
      };

      it('GET /api/tasks/:id and the list carry the version; GET answers its ETag', async () => {
        const t = await add('tagged');
        const got = await call('GET', `/api/tasks/${t.id}`);
        expect(got.json.task.version).toBe(1);
        expect(got.headers.get('etag')).toBe('"1"');
        expect((await list())[0]).toMatchObject({ id: t.id, version: 1 });
      });

      it.each(['PUT', 'PATCH', 'DELETE'] as const)('%s with a stale If-Match → 412 with the current task and its ETag; nothing written', async (method) => {
        const current = await changedOnce();
        const [, path, body] = writes(current.id).find(([m]) => m === method)!;
        const r = await call(method, path, body, { 'if-match': '"1"' });
        expect(r.status).toBe(412);
        expect(r.json).toEqual({ success: false, message: PRECONDITION_FAILED, code: 'precondition_failed', task: current });
        expect(r.headers.get('etag')).toBe('"2"');
        expect(r.headers.get('content-type')).toMatch(/^application\/json/);
        expect((await call('GET', `/api/tasks/${current.id}`)).json.task).toEqual(current);
      });

      it('a matching If-Match writes and answers the new ETag; the old one then no longer matches', async () => {
        const t = await add('v1');
        const put = await call('PUT', `/api/tasks/${t.id}`, { task: 'v2' }, { 'if-match': '"1"' });
        expect([put.status, put.json.task.task, put.json.task.version, put.headers.get('etag')]).toEqual([200, 'v2', 2, '"2"']);
        const patch = await call('PATCH', `/api/tasks/${t.id}`, { done: true }, { 'if-match': put.headers.get('etag')! });
        expect([patch.status, patch.json.task.done, patch.headers.get('etag')]).toEqual([200, true, '"3"']);
        expect((await call('PATCH', `/api/tasks/${t.id}`, { done: false }, { 'if-match': '"2"' })).status).toBe(412);
        const del = await call('DELETE', `/api/tasks/${t.id}`, undefined, { 'if-match': '"3"' });
        expect(del.status).toBe(200);
        expect(del.json).toEqual({ success: true, message: 'Task deleted successfully', id: t.id });
        expect(await count()).toBe(0);
      });

      it('the ETag stays strong whatever the answer\'s size and whether the client takes gzip', async () => {
        const gzip = { 'accept-encoding': 'gzip' };
        const created = await call('POST', '/api/tasks', { task: '🙂 long enough to be worth compressing '.repeat(6) }, gzip);
        expect([created.status, created.headers.get('etag')]).toEqual([201, '"1"']);
        const id = created.json.task.id;
        expect((await call('GET', `/api/tasks/${id}`, undefined, gzip)).headers.get('etag')).toBe('"1"');
        const changed = await call('PATCH', `/api/tasks/${id}`, { done: true }, { ...gzip, 'if-match': '"1"' });
        expect([changed.status, changed.headers.get('etag')]).toEqual([200, '"2"']);
        const stale = await call('PATCH', `/api/tasks/${id}`, { done: false }, { ...gzip, 'if-match': '"1"' });
        expect([stale.status, stale.headers.get('etag')]).toEqual([412, '"2"']);
      });

      it('* matches any version of an existing task', async () => {
        const current = await changedOnce();
        const r = await call('PATCH', `/api/tasks/${current.id}`, { done: true }, { 'if-match': '*' });
        expect([r.status, r.json.task.version, r.headers.get('etag')]).toEqual([200, 3, '"3"']);
        expect((await call('DELETE', `/api/tasks/${current.id}`, undefined, { 'if-match': '*' })).status).toBe(200);
      });

      it('a list matches when any of its tags does; a weak tag never matches (strong comparison)', async () => {
        const current = await changedOnce();
        const weak = await call('PUT', `/api/tasks/${current.id}`, { task: 'weak' }, { 'if-match': 'W/"2"' });
        expect([weak.status, weak.json.task]).toEqual([412, current]);
        for (const other of ['"02"', '"two"', '"1", W/"2"', '"9999999999999"']) {
          expect((await call('PUT', `/api/tasks/${current.id}`, { task: 'no' }, { 'if-match': other })).status, other).toBe(412);
        }
        const listed = await call('PUT', `/api/tasks/${current.id}`, { task: 'listed' }, { 'if-match': '"1", W/"2", "2", "7"' });
        expect([listed.status, listed.json.task.task, listed.headers.get('etag')]).toEqual([200, 'listed', '"3"']);
      });

      it.each([
        ['a bare number', '2'],
        ['* inside a list', '*, "2"'],
        ['an unterminated tag', '"2'],
        ['only commas', ' , '],
        ['a lowercase weak prefix', 'w/"2"'],
      ])('a malformed If-Match (%s) → 400 invalid_if_match and nothing written', async (_name, value) => {
        const current = await changedOnce();
        for (const [method, path, body] of writes(current.id)) {
          const r = await call(method, path, body, { 'if-match': value });
          expect(r.status, method).toBe(400);
          expect(r.json).toEqual({ success: false, message: INVALID, code: 'invalid_if_match' });
        }
        expect((await call('GET', `/api/tasks/${current.id}`)).json.task).toEqual(current);
      });

      // nginx takes these headers as sent once (ngx_http_request.c, "client sent duplicate header
      // line") and answers two lines of one with its 400, on any method and path. RFC 9110
      // §5.3 lets a recipient combine list-valued lines instead, as Node does; the API refuses them as
      // nginx does, so that one request gets one answer on every host.
      it.each([
        ['if-match', '"2"'],
        ['if-none-match', '"7"'],
        ['if-modified-since', 'Sun, 06 Nov 1994 08:49:37 GMT'],
        ['if-unmodified-since', 'Sun, 06 Nov 2094 08:49:37 GMT'],
        ['if-range', '"2"'],
        ['authorization', 'Bearer x'],
        ['content-range', 'bytes 0-1/2'],
      ])('%s as two header lines → 400 bad_request on any method, nothing written', async (name, value) => {
        const current = await changedOnce();
        const requests = [...writes(current.id), ['POST', '/api/tasks', { task: 'new' }], ['GET', '/api/tasks', undefined]] as const;
        for (const [method, path, body] of requests) {
          const r = await call(method, path, body, { [name]: [value, value] });
          expect([r.status, r.json], method).toEqual([400, { success: false, message: 'The request is not valid HTTP/1.1', code: 'bad_request' }]);
        }
        expect(await list()).toEqual([current]);
      });

      it('If-Match as one line with a list of tags is one condition', async () => {
        const current = await changedOnce();
        const listed = await call('PATCH', `/api/tasks/${current.id}`, { done: true }, { 'if-match': '"2", "2"' });
        expect([listed.status, listed.json.task.done]).toEqual([200, true]);
      });

      it('a missing task is 404 as without If-Match, whatever the tags', async () => {
        const t = await add('gone');
        expect((await call('DELETE', `/api/tasks/${t.id}`)).status).toBe(200);
        for (const value of ['"1"', '*', 'W/"1"', '"5", "6"']) {
          for (const [method, path, body] of writes(t.id)) {
            const r = await call(method, path, body, { 'if-match': value });
            expect(r.status, `${method} ${value}`).toBe(404);
            expect(r.json).toEqual({ success: false, message: 'Task not found', code: 'not_found' });
            expect(r.headers.get('etag')).toBeNull();
          }
        }
        expect(await count()).toBe(0);
      });

      it('with an Idempotency-Key a 412 is stored and replayed; the same key with another If-Match → 422', async () => {
        const current = await changedOnce();
        const key = `"${randomUUID()}"`;
        const first = await call('PATCH', `/api/tasks/${current.id}`, { done: true }, { 'if-match': '"1"', 'idempotency-key': key });
        expect(first.status).toBe(412);
        expect(first.json.task).toEqual(current);
        const again = await call('PATCH', `/api/tasks/${current.id}`, { done: true }, { 'if-match': '"1"', 'idempotency-key': key });
        expect([again.status, again.text, again.headers.get('idempotent-replayed'), again.headers.get('etag')]).toEqual([412, first.text, 'true', '"2"']);
        for (const other of ['"2"', '*', undefined]) {
          const headers: Record<string, string> = { 'idempotency-key': key };
          if (other !== undefined) headers['if-match'] = other;
          const r = await call('PATCH', `/api/tasks/${current.id}`, { done: true }, headers);
          expect(r.status, String(other)).toBe(422);
          expect(r.json.code).toBe('idempotency_key_reused');
        }
        expect((await call('GET', `/api/tasks/${current.id}`)).json.task).toEqual(current);
        // A keyed write that matched: its replay carries the same ETag.
        const k2 = `"${randomUUID()}"`;
        const ok = await call('PATCH', `/api/tasks/${current.id}`, { done: true }, { 'if-match': '"2"', 'idempotency-key': k2 });
        const replay = await call('PATCH', `/api/tasks/${current.id}`, { done: true }, { 'if-match': '"2"', 'idempotency-key': k2 });
        expect([ok.status, ok.headers.get('etag')]).toEqual([200, '"3"']);
        expect([replay.status, replay.text, replay.headers.get('etag'), replay.headers.get('idempotent-replayed')]).toEqual([200, ok.text, '"3"', 'true']);
      });

      it('a malformed If-Match with an Idempotency-Key is not stored: the corrected request may reuse the key', async () => {
        const t = await add('key kept');
        const key = `"${randomUUID()}"`;
        expect((await call('PATCH', `/api/tasks/${t.id}`, { done: true }, { 'if-match': '1', 'idempotency-key': key })).status).toBe(400);
        const fixed = await call('PATCH', `/api/tasks/${t.id}`, { done: true }, { 'if-match': '"1"', 'idempotency-key': key });
        expect([fixed.status, fixed.headers.get('idempotent-replayed'), fixed.json.task.version]).toEqual([200, null, 2]);
      });

      it('writers with the same If-Match at once: exactly one 200, every other one 412 with the winner\'s task', async () => {
        for (let round = 0; round < 5; round++) {
          const t = await add(`race ${round}`);
          const answers = await Promise.all(
            ['a', 'b', 'c', 'd'].map((who) => call('PATCH', `/api/tasks/${t.id}`, { task: `from ${who}` }, { 'if-match': '"1"' })),
          );
          expect(answers.map((r) => r.status).sort(), `round ${round}`).toEqual([200, 412, 412, 412]);
          const won = answers.find((r) => r.status === 200)!;
          expect(won.json.task.version).toBe(2);
          for (const lost of answers.filter((r) => r.status === 412)) expect(lost.json.task).toEqual(won.json.task);
          expect((await call('GET', `/api/tasks/${t.id}`)).json.task).toEqual(won.json.task);
        }
      });

      it('the OpenAPI document shows If-Match, the ETag header and the 412 answer', async () => {
        const doc = (await call('GET', '/api/openapi.json')).json;
        for (const method of ['put', 'patch', 'delete'] as const) {
          const op = doc.paths['/tasks/{id}'][method];
          expect(op.parameters, method).toContainEqual(expect.objectContaining({ name: 'if-match', in: 'header', required: false }));
          expect(op.responses['412'].content['application/json'].schema.$ref, method).toBe('#/components/schemas/PreconditionFailed');
          expect(op.responses['412'].headers, method).toHaveProperty('ETag');
        }
        expect(doc.paths['/tasks/{id}'].get.responses['200'].headers).toHaveProperty('ETag');
        expect(doc.paths['/tasks'].post.responses['201'].headers).toHaveProperty('ETag');
        expect(doc.paths['/tasks'].post.parameters.some((p: { name: string }) => p.name === 'if-match')).toBe(false);
        expect(doc.components.schemas.PreconditionFailed.required).toEqual(['success', 'message', 'code', 'task']);
      });
    });

    it('feature flags off → 403 on PUT, PATCH, DELETE and nothing changes', async () => {
      const locked = await start({ ...CONTRACT_ENV, FEATURE_EDIT_TASK: 'false', FEATURE_DELETE_TASK: 'no' });
      const main = host;
      host = locked;
      try {
        const t = await add('locked');
        for (const [method, body, what] of [
          ['PUT', { task: 'x' }, 'Editing'],
          ['PATCH', { done: true }, 'Editing'],
          ['DELETE', undefined, 'Deleting'],
        ] as const) {
          const r = await call(method, `/api/tasks/${t.id}`, body);
          expect(r.status, method).toBe(403);
          expect(r.json).toEqual({ success: false, message: `${what} tasks is turned off on this server`, code: 'feature_disabled' });
        }
        for (const [method, path, body, what] of [['PATCH', '/api/tasks', { ids: [t.id], done: true }, 'Editing']] as const) {
          const r = await call(method, path, body);
          expect(r.status, method).toBe(403);
          expect(r.json).toEqual({ success: false, message: `${what} tasks is turned off on this server`, code: 'feature_disabled' });
        }
        expect((await call('GET', `/api/tasks/${t.id}`)).json.task).toEqual(t);
        expect((await call('GET', '/api/info')).json.features).toEqual({ editTask: false, deleteTask: false });
        expect((await call('POST', '/api/tasks', { task: 'adding still works' })).status).toBe(201);
      } finally {
        host = main;
        await locked.stop();
      }
    });

    it('GET /api/info reports version, revision, driver and features', async () => {
      const r = await call('GET', '/api/info');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ version: '9.9.9', revision: 'tasks-api-00007', driver: driverName, features: { editTask: true, deleteTask: true } });
    });

    it('GET /api/openapi.json is an OpenAPI 3.1 document of every route', async () => {
      const r = await call('GET', '/api/openapi.json');
      expect(r.status).toBe(200);
      expect(r.json.openapi).toBe('3.1.0');
      expect(Object.keys(r.json.paths).sort()).toEqual(['/info', '/tasks', '/tasks/restore', '/tasks/{id}']);
      expect(Object.keys(r.json.paths['/tasks/restore'])).toEqual(['post']);
      expect(r.json.paths['/tasks'].get.parameters.map((q: { name: string }) => q.name).sort()).toEqual(['cursor', 'limit', 'order']);
      expect(Object.keys(r.json.paths['/tasks/{id}']).sort()).toEqual(['delete', 'get', 'patch', 'put']);
      expect(Object.keys(r.json.paths['/tasks']).sort()).toEqual(['get', 'patch', 'post']);
      expect(r.json.paths['/tasks'].post.responses).toHaveProperty('415');
      expect(r.json.components.schemas.Task.required).toEqual(['id', 'task', 'done', 'createdAt', 'updatedAt', 'position', 'version']);
    });

    it('unknown route → 404, wrong method → 405 with Allow', async () => {
      const unknown = await call('GET', '/api/nope');
      expect(unknown.status).toBe(404);
      expect(unknown.json).toEqual({ success: false, message: 'No route for GET /api/nope', code: 'not_found' });
      const method = await call('DELETE', '/api/tasks');
      expect(method.status).toBe(405);
      // HEAD too: Hono answers HEAD on every GET route (RFC 9110 section 9.3.2).
      expect(method.headers.get('allow')).toBe('GET, HEAD, PATCH, POST');
      expect(method.json).toEqual({ success: false, message: 'DELETE is not allowed on /api/tasks; use GET, HEAD, PATCH, POST', code: 'method_not_allowed' });
      expect((await call('POST', '/api/tasks/1', { task: 'x' })).status).toBe(405);
      for (const [method, path] of [['GET', '/api/tasks/1/extra'], ['POST', '/api/nope'], ['GET', '/api/tasks/x/y/z']]) {
        const r = await call(method!, path!, method === 'POST' ? { task: 'x' } : undefined);
        expect(r.status, `${method} ${path}`).toBe(404);
        expect(r.json.code).toBe('not_found');
      }
      expect(await count()).toBe(0);
    });

    it('the connectivity check and the list answer with and without a trailing slash', async () => {
      const t = await add('slash');
      expect((await call('GET', '/api')).json).toEqual({ message: 'Task API is running' });
      expect((await call('GET', '/api/tasks/')).json.tasks).toEqual([t]);
      expect((await call('POST', '/api/tasks/', { task: 'with slash' })).status).toBe(201);
    });

    if (probes) it('health, readiness and metrics, and the previous system\'s probe paths', async () => {
      expect((await call('GET', '/healthz')).json).toEqual({ status: 'ok' });
      expect((await call('GET', '/health')).json).toEqual({ status: 'ok' });
      expect((await call('GET', '/live')).json).toEqual({ status: 'ok' });
      expect((await call('GET', '/ready')).json).toEqual({ status: 'ready' });
      const ready = await call('GET', '/readyz');
      expect(ready.status).toBe(200);
      await call('GET', '/api/tasks');
      const metrics = await call('GET', '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.text).toMatch(/http_requests_total\{method="GET",route="\/api\/tasks",status="200"\} \d+/);
      expect(metrics.text).toMatch(/http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/api\/tasks",status="200"\}/);
      expect(metrics.text).toMatch(/db_pool_connections\{state="waiting"\} 0/);
      expect(metrics.text).toContain('process_resident_memory_bytes');
    });
  });
}
