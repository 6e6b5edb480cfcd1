import { z } from '@hono/zod-openapi';
import { MAX_TASK_LENGTH, taskTextProblem, type TaskTextProblem } from './task-text';
import { MAX_POSITION_LENGTH, positionProblem } from './task-position';

// The API's contract: these schemas validate requests, document them (OpenAPI) and give the page its
// types (`import type`); the text rule itself lives in task-text.ts, which the page imports as code.
/**
 * The largest task id: 2^53 - 1, the sequence's MAXVALUE (migration 006), the largest integer a
 * JSON number keeps exact in JavaScript (ids are bigint since migration 005).
 */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

const TASK_TEXT_MESSAGES: Record<TaskTextProblem, string> = {
  empty: 'task must not be empty',
  too_long: `task must be at most ${MAX_TASK_LENGTH} characters`,
  nul: 'task must not contain NUL characters',
  lone_surrogate: 'task must be Unicode text (it contains a lone surrogate)',
};

const taskText = z
  .string({ error: (i) => (i.input === undefined ? 'task is required' : 'task must be a string') })
  .superRefine((s, ctx) => {
    const problem = taskTextProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: TASK_TEXT_MESSAGES[problem] });
  })
  .openapi({ example: 'Buy milk', description: 'Stored exactly as sent; must contain a non-space character' });

export const Task = z
  .object({
    id: z.number().int().openapi({ example: 1 }),
    task: z.string().openapi({ example: 'Buy milk' }),
    done: z.boolean(),
    createdAt: z.string().openapi({ example: '2026-01-01T12:00:00.000Z', format: 'date-time' }),
    updatedAt: z.string().openapi({ example: '2026-01-01T12:00:00.000Z', format: 'date-time' }),
    position: z.string().openapi({
      example: 'a0',
      description: "The task's place in the person's order (a fractional-index key, task-position.ts): lists in that order sort by position byte by byte, then id",
    }),
    version: z.number().int().min(1).openapi({
      example: 1,
      description: '1 when created, +1 on every change; the task\'s ETag is this number in double quotes ("1"), the If-Match value of a conditional write',
    }),
  })
  .openapi('Task');
export type Task = z.infer<typeof Task>;

/** Every `code` the API answers errors with (what the page may see besides its own and nginx's). */
/**
 * Every error code the API answers with, and its status. The README's error table lists exactly
 * these plus nginx's own (test/error-codes.test.ts derives both lists and compares them); `fail`
 * (errors.ts) accepts no other code, and the OpenAPI document lists them.
 */
export const ERROR_CODES = {
  validation_error: 400,
  malformed_json: 400,
  invalid_idempotency_key: 400,
  invalid_if_match: 400,
  unauthorized: 401,
  feature_disabled: 403,
  not_found: 404,
  method_not_allowed: 405,
  idempotency_key_in_use: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  // nginx's 499 "client closed request": the client went away while its body was being read. Nobody
  // reads the answer; the status is for the log and the metrics, and is no database error.
  client_closed_request: 499,
  internal_error: 500,
  database_unavailable: 503,
  database_busy: 503,
  database_timeout: 503,
  request_budget_exceeded: 503,
  schema_not_ready: 503,
  // RFC 4918 §11.5 507 Insufficient Storage: the server cannot store what the request needs; not
  // a 503, which clients (the page, nginx) retry, while only an operator can help here.
  ids_exhausted: 507,
  // Answered below the app, for requests Node's HTTP parser refuses (client-errors.ts).
  bad_request: 400,
  request_timeout: 408,
  uri_too_long: 414,
  expectation_failed: 417,
  header_too_large: 431,
  not_implemented: 501,
  http_version_not_supported: 505,
} as const;

export const ErrorCode = z
  .enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...(keyof typeof ERROR_CODES)[]])
  .openapi({ description: 'Stable machine-readable code', example: 'validation_error' });
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorBody = z
  .object({
    success: z.literal(false),
    message: z.string().openapi({ description: 'What is wrong, for a person' }),
    code: ErrorCode,
  })
  .openapi('Error');

/** 412: the task's version is none of those in If-Match; nothing was written. `task` is the task as it is now. */
export const PreconditionFailed = z
  .object({
    success: z.literal(false),
    message: z.string().openapi({ description: 'What is wrong, for a person' }),
    code: z.literal('precondition_failed'),
    task: Task,
  })
  .openapi('PreconditionFailed');
export type PreconditionFailedBody = z.infer<typeof PreconditionFailed>;

export const IdParam = z.object({
  id: z
    .string()
    .regex(/^[0-9]+$/, { message: 'id must be a positive integer' })
    .transform(Number)
    .refine((n) => n >= 1 && n <= MAX_ID, { message: `id must be between 1 and ${MAX_ID}` })
    .openapi({ param: { name: 'id', in: 'path' }, example: '1', type: 'integer' }),
});

export const ListQuery = z.object({
  limit: z
    .string()
    .regex(/^[0-9]+$/, { message: 'limit must be an integer from 1 to 1000' })
    .transform(Number)
    .refine((n) => n >= 1 && n <= 1000, { message: 'limit must be an integer from 1 to 1000' })
    .optional()
    .openapi({ param: { name: 'limit', in: 'query' }, example: '100', description: '1–1000, default 1000' }),
  order: z
    .enum(['id', 'position'], { error: 'order must be id or position' })
    .optional()
    .openapi({
      param: { name: 'order', in: 'query' },
      description: "`id` (the default, the order every earlier client knows) or `position`: the person's order (position, then id)",
    }),
  cursor: z
    .string()
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' }, description: 'nextCursor from the previous page of the same order' }),
});
export const CURSOR_MESSAGE = 'cursor is not valid; use the nextCursor of a previous page';

/**
 * A list cursor as `order` writes it (`nextCursor`): the last id (`17`) in id order, the last
 * position and id (`a0V.17`) in position order; undefined when it is not one.
 */
export function parseCursor(order: 'id' | 'position', cursor: string): number | { position: string; id: number } | undefined {
  const m = order === 'id' ? /^()([0-9]{1,16})$/.exec(cursor) : /^([0-9A-Za-z]+)\.([0-9]{1,16})$/.exec(cursor);
  if (!m) return undefined;
  const id = Number(m[2]);
  if (id > MAX_ID || (order === 'position' && positionProblem(m[1]) !== null)) return undefined;
  return order === 'id' ? id : { position: m[1]!, id };
}

/** A position as a client sends it (PATCH): task-position.ts's rule. */
const position = z
  .string({ error: 'position must be a string' })
  .superRefine((p, ctx) => {
    const problem = positionProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .openapi({
    example: 'a0V',
    description: `A fractional-index key (base 62, at most ${MAX_POSITION_LENGTH} characters) strictly between the new neighbours' positions; the list sorts by it, then id`,
  });

export const CreateBody = z.object({ task: taskText }).openapi('NewTask');
export const ReplaceBody = z.object({ task: taskText }).openapi('TaskText');
export const PatchBody = z
  .object({
    task: taskText.optional(),
    done: z.boolean({ error: 'done must be true or false' }).optional(),
    position: position.optional(),
  })
  .refine((b) => b.task !== undefined || b.done !== undefined || b.position !== undefined, { message: 'send task, done or position' })
  .openapi('TaskPatch');

/** The most ids one toggle-all request may name (PATCH /api/tasks): the largest page GET /api/tasks answers. */
export const MAX_BULK_IDS = 1000;
const BULK_ID_MESSAGE = `ids must be task ids (integers from 1 to ${MAX_ID})`;

/** True when no id is named twice: one rule for every request that names tasks by id (toggle all, Undo). */
const eachOnce = (ids: readonly number[]) => new Set(ids).size === ids.length;

/** Toggle all: `ids` (1 to MAX_BULK_IDS task ids, each once) become `done`. */
export const SetDoneBody = z
  .object({
    ids: z
      .array(
        // zod's int() is a safe integer, so ids past MAX_ID meet the same message.
        z.number({ error: BULK_ID_MESSAGE }).int({ error: BULK_ID_MESSAGE }).min(1, { error: BULK_ID_MESSAGE }).max(MAX_ID, { error: BULK_ID_MESSAGE }),
        { error: (i) => (i.input === undefined ? 'ids is required' : 'ids must be an array of task ids') },
      )
      .min(1, { error: 'ids must name at least one task' })
      .max(MAX_BULK_IDS, { error: `ids must name at most ${MAX_BULK_IDS} tasks` })
      .refine(eachOnce, { message: 'ids must name each id once' })
      .openapi({ example: [1, 2, 3], description: `1 to ${MAX_BULK_IDS} task ids, each once; ids that do not exist are left out of the answer` }),
    done: z.boolean({ error: (i) => (i.input === undefined ? 'done is required' : 'done must be true or false') }),
  })
  .openapi('TasksDone');

const ID_MESSAGE = `id must be a task id (an integer from 1 to ${MAX_ID})`;

/** The most tasks one Undo may put back (POST /api/tasks/restore): as many as toggle all names. */
export const MAX_RESTORE_IDS = MAX_BULK_IDS;

/** One deleted task as Undo names it: its id only (the database recorded the rest, migration 013). */
const RestoredTaskSchema = z.object(
  { id: z.number({ error: ID_MESSAGE }).int({ error: ID_MESSAGE }).min(1, { error: ID_MESSAGE }).max(MAX_ID, { error: ID_MESSAGE }) },
  { error: 'tasks must be objects with an id' },
);
export type RestoredTask = z.infer<typeof RestoredTaskSchema>;

/**
 * Undo (POST /api/tasks/restore): the ids of deleted tasks, 1 to MAX_RESTORE_IDS, each once. Other
 * fields of a task are ignored: what comes back is what the database recorded at the delete.
 */
export const RestoreBody = z
  .object({
    tasks: z
      .array(RestoredTaskSchema, { error: (i) => (i.input === undefined ? 'tasks is required' : 'tasks must be an array of tasks') })
      .min(1, { error: 'tasks must hold at least one task' })
      .max(MAX_RESTORE_IDS, { error: `tasks must hold at most ${MAX_RESTORE_IDS} tasks` })
      .refine((tasks) => eachOnce(tasks.map((t) => t.id)), { message: 'tasks must name each id once' })
      .openapi({ example: [{ id: 1 }, { id: 2 }], description: `1 to ${MAX_RESTORE_IDS} deleted tasks by id, each once` }),
  })
  .openapi('TasksRestore');

export const TaskResponse = z.object({ success: z.literal(true), task: Task });
export const TaskChanged = z.object({ success: z.literal(true), message: z.string(), task: Task });
export const TaskList = z.object({
  success: z.literal(true),
  tasks: z.array(Task),
  nextCursor: z.string().nullable().openapi({ description: 'Pass as ?cursor= for the next page; null on the last page' }),
});
export const TasksChanged = z
  .object({
    success: z.literal(true),
    message: z.string(),
    tasks: z.array(Task).openapi({ description: 'Every task named in ids that exists, as it is now, ascending id; the ones that changed have version + 1' }),
  })
  .openapi('TasksChanged');
export const TasksRestored = z
  .object({
    success: z.literal(true),
    message: z.string(),
    tasks: z.array(Task).openapi({
      description:
        'The tasks put back as the database recorded them at the delete, ascending id, each at its recorded version + 1 (so an old If-Match fails with 412); ' +
        'an id with no delete recorded in the last 24 h (never deleted, deleted longer ago, already restored) is left out',
    }),
  })
  .openapi('TasksRestored');
export const Deleted = z.object({ success: z.literal(true), message: z.string(), id: z.number().int() });

// Response bodies as types, for the page (`import type`: no zod in its bundle).
export type TaskChangedBody = z.infer<typeof TaskChanged>;
export type TaskBody = z.infer<typeof TaskResponse>;
export type TaskListBody = z.infer<typeof TaskList>;
export type TasksChangedBody = z.infer<typeof TasksChanged>;
export type TasksRestoredBody = z.infer<typeof TasksRestored>;
export const Info = z
  .object({
    version: z.string(),
    revision: z.string().nullable().openapi({ description: "Knative revision (K_REVISION), null outside Knative" }),
    driver: z.enum(['pg', 'neon', 'pglite']),
    features: z.object({ editTask: z.boolean(), deleteTask: z.boolean() }),
  })
  .openapi('Info');

/**
 * Idempotency-Key (IETF httpapi draft "The Idempotency-Key HTTP Header Field", §2.1): an RFC 8941
 * sf-string, that is a double-quoted string of printable ASCII where `"` and `\` are escaped with
 * `\`; or, as Stripe-style clients and most HTTP libraries send it, the key bare: visible ASCII
 * without `"`, `\`, `,` or spaces (so two header lines, which Node joins with ", ", stay refused).
 * Either way 1 to 255 characters, so a key fits its index; `abc` and `"abc"` are the same key.
 */
export const IDEMPOTENCY_KEY_PATTERN = /^(?:"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\]){1,255}"|[\x21\x23-\x2b\x2d-\x5b\x5d-\x7e]{1,255})$/;

export const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(IDEMPOTENCY_KEY_PATTERN, { message: 'Idempotency-Key must be 1 to 255 printable ASCII characters, bare or as one quoted string' })
    .optional()
    .openapi({
      param: { name: 'idempotency-key', in: 'header' },
      example: '"8e03978e-40d5-43e8-bc93-6894a57f9324"',
      description:
        'Makes the write safe to retry: a repeat with the same key within 24 h answers the first response (with `Idempotent-Replayed: true`) and writes nothing; ' +
        'the same key with another method, path or body is 422 `idempotency_key_reused`; a repeat while the first is still running is 409 `idempotency_key_in_use` (with `Retry-After`). ' +
        'An RFC 8941 quoted string, for example a UUID in double quotes, or the same key bare (`abc` and `"abc"` are one key).',
    }),
});

/** The ETag header on an answer about one task (entity-tag.ts): its version, as a strong tag. */
export const ETagHeader = z.string().openapi({ example: '"1"', description: 'The task\'s version as a strong entity-tag (RFC 9110 §8.8.3): send it back in If-Match to write only if nobody changed the task meanwhile' });

/**
 * PUT, PATCH and DELETE: Idempotency-Key and If-Match (RFC 9110 §13.1.1). The If-Match middleware
 * (preconditions.ts) refuses a malformed value with 400 invalid_if_match before this schema runs.
 */
export const ConditionalWriteHeaders = IdempotencyHeaders.extend({
  'if-match': z
    .string()
    .optional()
    .openapi({
      param: { name: 'if-match', in: 'header' },
      example: '"3"',
      description:
        'Write only if the task is still at this version: `*` (the task exists), one ETag (`"3"`) or a comma-separated list (strong comparison: a weak `W/"3"` never matches). ' +
        'When none matches: 412 `precondition_failed` with the current task and its ETag, nothing written. A missing task is 404 as without the header. ' +
        'Anything else than `*` or a list of entity-tags is 400 `invalid_if_match`. With an Idempotency-Key, the If-Match value is part of the request: the same key with another If-Match is 422.',
    }),
});
