import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { Config } from '../config';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { fail, readRequestBody } from '../errors';
import { entityTag } from '../entity-tag';
import { keyedWriter } from '../idempotency';
import { answerETag, ifMatch, versionCondition } from '../preconditions';
import { taskWrites, type TaskWrite } from '../tasks';
import * as s from '../schemas';

export const BODY_LIMIT_BYTES = 16 * 1024;

export interface ApiDeps {
  config: Config;
  /** Idempotency-Key handling for the write routes (idempotency.ts). */
  idempotent: MiddlewareHandler;
  /** Sets the request's task repository, `c.var.tasks` (tasks.ts `withTaskRepository`). */
  tasks: MiddlewareHandler;
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});
/** A write's answer: the same when replayed for a repeated Idempotency-Key, marked by a header. */
const written = <T extends z.ZodType>(schema: T, description: string) => ({
  ...json(schema, description),
  headers: z.object({
    'Idempotent-Replayed': z
      .literal('true')
      .optional()
      .openapi({ description: 'Present when this is the stored answer to an earlier request with the same Idempotency-Key' }),
  }),
});
/** A write's answer about one task: also its ETag (RFC 9110 §8.8.3). */
const tagged = <T extends z.ZodType>(schema: T, description: string) => {
  const w = written(schema, description);
  return { ...w, headers: w.headers.extend({ ETag: s.ETagHeader }) };
};
const preconditionFailed = {
  ...json(s.PreconditionFailed, 'If-Match matched no version of the task: nothing written; the task as it is now, and its ETag'),
  headers: z.object({ ETag: s.ETagHeader }),
};
type ErrorResponse = ReturnType<typeof json<typeof s.ErrorBody>>;
const errors = <const S extends readonly number[]>(...statuses: S) =>
  Object.fromEntries(statuses.map((st) => [st, json(s.ErrorBody, ERROR_TEXT[st] ?? 'Error')])) as {
    [K in S[number]]: ErrorResponse;
  };
const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid input',
  401: 'Missing or wrong X-Internal-Token',
  403: 'This feature is turned off',
  404: 'Task not found',
  412: 'The task changed since the version in If-Match: nothing written; the current task and its ETag',
  413: 'Body too large',
  415: 'Body must be application/json',
  409: 'A request with this Idempotency-Key is still running (Retry-After)',
  422: 'This Idempotency-Key was used for a different request',
  503: 'Database unavailable',
  507: 'No task ids are left (ids_exhausted): retrying does not help',
};
const bodyOf = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});

/** Validation failures become the one error shape, naming the first problem. */
const onInvalid = (result: { success: boolean; error?: z.ZodError }, c: Context) => {
  if (result.success || !result.error) return;
  const issue = result.error.issues[0];
  let message = issue?.message ?? 'invalid input';
  if (issue && issue.path.length === 0 && issue.code === 'invalid_type') message = 'request body must be a JSON object';
  // A query parameter given twice arrives as an array: say so rather than zod's type message.
  else if ((issue?.code === 'invalid_type' || issue?.code === 'invalid_value') && issue.path.length === 1 && (c.req.queries(String(issue.path[0]))?.length ?? 0) > 1) message = `${String(issue.path[0])} must be given once`;
  return fail(c, 400, 'validation_error', message);
};

/**
 * Whether a Content-Type header names JSON: `application/json` or a `+json` structured syntax
 * suffix (RFC 6839), in any case, with optional parameters and the optional whitespace and empty
 * parameters RFC 9110 §8.3.1 allows (`application/json ; charset=utf-8`, `application/json;`).
 * A charset other than UTF-8 is refused: JSON text is UTF-8 (RFC 8259 §8.1).
 */
export function isJsonMediaType(header: string | undefined): boolean {
  if (!header) return false;
  const [type, ...params] = header.split(';');
  if (!/^application\/([\w.-]+\+)?json$/i.test(type!.trim())) return false; // the media types hono's json validator reads
  for (const raw of params) {
    const param = raw.trim();
    if (param === '') continue;
    const eq = param.indexOf('=');
    if (eq <= 0) return false;
    if (param.slice(0, eq).trim().toLowerCase() === 'charset') {
      const value = param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
      if (value !== 'utf-8' && value !== 'utf8') return false;
    }
  }
  return true;
}

/** Write routes need a JSON body: anything else is refused before it is read. */
const requireJson: MiddlewareHandler = async (c, next) => {
  const type = c.req.header('content-type');
  if (!isJsonMediaType(type)) {
    return fail(c, 415, 'unsupported_media_type', 'Send the body as JSON with Content-Type: application/json');
  }
  // The route validator's own gate reads a narrower grammar (no space before ';', no empty
  // parameter): hand it the essence of what was accepted here.
  if (type !== 'application/json') c.req.raw.headers.set('content-type', 'application/json');
  await next();
};

const tooLarge = (c: Context) => fail(c, 413, 'payload_too_large', `The request body must be at most ${BODY_LIMIT_BYTES} bytes`);
/**
 * With a Content-Length (every normal client) the header decides: Node's parser never delivers
 * more than it declares. A chunked body is read here, counting, and refused as soon as it passes
 * the limit; what was read is handed on through hono's body cache, so it is read only once.
 */
const limitBody: MiddlewareHandler = async (c, next) => {
  const length = c.req.header('content-length');
  if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
    if (Number(length) > BODY_LIMIT_BYTES) return tooLarge(c);
    return next();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = c.req.raw.body?.getReader();
  for (;;) {
    const chunk = reader ? await readRequestBody(() => reader.read()) : { done: true as const, value: undefined };
    if (chunk.done) break;
    size += chunk.value.byteLength;
    if (size > BODY_LIMIT_BYTES) {
      await reader!.cancel();
      return tooLarge(c);
    }
    chunks.push(chunk.value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  // hono keeps a promise per body kind (its type says a value); arrayBuffer() reads this one.
  (c.req.bodyCache as { arrayBuffer?: Promise<ArrayBuffer> }).arrayBuffer = Promise.resolve(body.buffer);
  return next();
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The body is decoded here, once, and strictly: invalid UTF-8 is refused (400 validation_error)
 * rather than turned into U+FFFD and stored, so text is stored exactly as sent or not at all (lone
 * surrogates, which valid UTF-8 cannot carry but JSON's "\ud800" can, are refused by the task-text
 * rule). The validator's `c.req.json()` parses this text; nothing decodes the body a second time.
 */
const strictUtf8: MiddlewareHandler = async (c, next) => {
  const bytes = await readRequestBody(() => c.req.arrayBuffer());
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return fail(c, 400, 'validation_error', 'The request body is not valid UTF-8');
  }
  // hono keeps a promise per body kind (its type says a value); json() reads the text one.
  (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(text);
  await next();
};

const feature = (enabled: boolean, what: string): MiddlewareHandler => async (c, next) => {
  if (!enabled) return fail(c, 403, 'feature_disabled', `${what} tasks is turned off on this server`);
  await next();
};

const NOT_FOUND = 'Task not found';
const notFound = (c: Context) => fail(c, 404, 'not_found', NOT_FOUND);
/** The same answer as the body a write stores and sends (its SQL builds no error text of its own). */
const NOT_FOUND_BODY = JSON.stringify({ success: false, message: NOT_FOUND, code: 'not_found' });
const ADDED = 'Task added successfully';
const UPDATED = 'Task updated successfully';
const DELETED = 'Task deleted successfully';
const TASKS_UPDATED = 'Tasks updated successfully';
const TASKS_RESTORED = 'Tasks restored successfully';

export function apiRoutes({ config, idempotent, tasks }: ApiDeps) {
  const api = new OpenAPIHono({ defaultHook: onInvalid });
  const canEdit = feature(config.features.editTask, 'Editing');
  const canDelete = feature(config.features.deleteTask, 'Deleting');
  // Every write with a JSON body: type, size, UTF-8, the Idempotency-Key record, the repository.
  const jsonWrite = [requireJson, limitBody, strictUtf8, idempotent, tasks] as const;
  // PUT and PATCH: the same, with If-Match read before the key is claimed.
  const conditionalJsonWrite = [requireJson, limitBody, strictUtf8, ifMatch, idempotent, tasks] as const;
  const updated = {
    200: tagged(s.TaskChanged, 'Updated'),
    412: preconditionFailed,
    ...errors(400, 403, 404, 409, 413, 415, 422, 503),
  };
  /**
   * Every write runs as one statement that builds its own answer (tasks.ts); with an
   * Idempotency-Key the same statement claims the key and stores that answer (idempotency.ts).
   * Typed `never` for the route: the compiler cannot see a body PostgreSQL built; the contract
   * tests hold it to the route's response schemas.
   */
  const write = async (c: Context, w: TaskWrite): Promise<never> => {
    const keyed = keyedWriter(c);
    if (keyed) return (await keyed(w, answerETag)) as never;
    const answer = await c.var.tasks.write(w);
    return c.body(answer.body, answer.status as ContentfulStatusCode, { 'Content-Type': 'application/json', ...answerETag(answer) }) as never;
  };

  api.get('/', (c) => c.json({ message: 'Task API is running' }));

  api.openapi(
    createRoute({
      method: 'get',
      path: '/info',
      summary: 'Version, Knative revision, database driver and feature flags',
      responses: { 200: json(s.Info, 'About this server') },
    }),
    (c) =>
      c.json({
        version: config.version,
        revision: config.revision,
        driver: config.driver,
        features: config.features,
      }),
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/tasks',
      summary: "List tasks a page at a time: in ascending id order, or with ?order=position in the person's order",
      middleware: [tasks] as const,
      request: { query: s.ListQuery },
      responses: { 200: json(s.TaskList, 'A page of tasks'), ...errors(400, 503) },
    }),
    async (c) => {
      const { limit = 1000, order = 'id', cursor } = c.req.valid('query');
      const after = cursor === undefined ? undefined : s.parseCursor(order, cursor);
      if (cursor !== undefined && after === undefined) return fail(c, 400, 'validation_error', s.CURSOR_MESSAGE);
      if (order === 'position') {
        const page = await c.var.tasks.listByPosition(limit, after as { position: string; id: number } | undefined);
        return c.json({ success: true as const, tasks: page.tasks, nextCursor: page.next && `${page.next.position}.${page.next.id}` }, 200);
      }
      const page = await c.var.tasks.list(limit, after as number | undefined);
      return c.json(
        { success: true as const, tasks: page.tasks, nextCursor: page.nextAfterId === null ? null : String(page.nextAfterId) },
        200,
      );
    },
  );

  api.openapi(
    createRoute({
      method: 'patch',
      path: '/tasks',
      summary: `Toggle all: mark up to ${s.MAX_BULK_IDS} tasks done or not done in one write (needs FEATURE_EDIT_TASK)`,
      middleware: [canEdit, ...jsonWrite] as const,
      request: { headers: s.IdempotencyHeaders, body: bodyOf(s.SetDoneBody) },
      responses: { 200: written(s.TasksChanged, 'The named tasks as they are now'), ...errors(400, 403, 409, 413, 415, 422, 503) },
    }),
    (c) => {
      const { ids, done } = c.req.valid('json');
      return write(c, taskWrites.setDone(ids, done, TASKS_UPDATED));
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/tasks/restore',
      summary: `Undo a delete: put up to ${s.MAX_RESTORE_IDS} tasks deleted in the last 24 h back by id, as the database recorded them`,
      middleware: [...jsonWrite] as const,
      request: { headers: s.IdempotencyHeaders, body: bodyOf(s.RestoreBody) },
      responses: { 200: written(s.TasksRestored, 'The tasks put back (ids without a recorded delete are left out)'), ...errors(400, 409, 413, 415, 422, 503) },
    }),
    (c) => write(c, taskWrites.restore(c.req.valid('json').tasks.map((t) => t.id), TASKS_RESTORED)),
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/tasks/{id}',
      summary: 'One task',
      middleware: [tasks] as const,
      request: { params: s.IdParam },
      responses: { 200: { ...json(s.TaskResponse, 'The task'), headers: z.object({ ETag: s.ETagHeader }) }, ...errors(400, 404, 503) },
    }),
    async (c) => {
      const task = await c.var.tasks.get(c.req.valid('param').id);
      return task ? c.json({ success: true as const, task }, 200, { ETag: entityTag(task.version) }) : notFound(c);
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/tasks',
      summary: 'Add a task',
      middleware: [...jsonWrite] as const,
      request: { headers: s.IdempotencyHeaders, body: bodyOf(s.CreateBody) },
      responses: { 201: tagged(s.TaskChanged, 'Created'), ...errors(400, 409, 413, 415, 422, 503, 507) },
    }),
    (c) => write(c, taskWrites.create(c.req.valid('json').task, ADDED)),
  );

  api.openapi(
    createRoute({
      method: 'put',
      path: '/tasks/{id}',
      summary: "Replace a task's text (needs FEATURE_EDIT_TASK)",
      middleware: [canEdit, ...conditionalJsonWrite] as const,
      request: { params: s.IdParam, headers: s.ConditionalWriteHeaders, body: bodyOf(s.ReplaceBody) },
      responses: updated,
    }),
    (c) => write(c, taskWrites.update(c.req.valid('param').id, { task: c.req.valid('json').task }, UPDATED, NOT_FOUND_BODY, versionCondition(c))),
  );

  api.openapi(
    createRoute({
      method: 'patch',
      path: '/tasks/{id}',
      summary: 'Change text, done and/or position (a move: one row; needs FEATURE_EDIT_TASK)',
      middleware: [canEdit, ...conditionalJsonWrite] as const,
      request: { params: s.IdParam, headers: s.ConditionalWriteHeaders, body: bodyOf(s.PatchBody) },
      responses: updated,
    }),
    (c) => write(c, taskWrites.update(c.req.valid('param').id, c.req.valid('json'), UPDATED, NOT_FOUND_BODY, versionCondition(c))),
  );

  api.openapi(
    createRoute({
      method: 'delete',
      path: '/tasks/{id}',
      summary: 'Delete a task (needs FEATURE_DELETE_TASK)',
      middleware: [canDelete, ifMatch, idempotent, tasks] as const,
      request: { params: s.IdParam, headers: s.ConditionalWriteHeaders },
      responses: { 200: written(s.Deleted, 'Deleted'), 412: preconditionFailed, ...errors(400, 403, 404, 409, 422, 503) },
    }),
    (c) => write(c, taskWrites.remove(c.req.valid('param').id, DELETED, NOT_FOUND_BODY, versionCondition(c))),
  );

  api.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Task API', version: config.version, description: 'Tasks for the task app. Errors: {success:false, message, code}.' },
    servers: [{ url: '/api' }],
  });

  return api;
}
