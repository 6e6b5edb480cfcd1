import type { MiddlewareHandler } from 'hono';
import type { Db, Queryable } from './db';
import { retryingReads } from './db/read-retry';
import type { QueryOptions } from './db/types';
import type { Task } from './schemas';

// Timestamps are formatted by Postgres: no Date objects to build and serialise on list calls.
const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const TIMES = `${iso('created_at')} AS "createdAt", ${iso('updated_at')} AS "updatedAt"`;
/**
 * Rows read into JavaScript: the id is a bigint (migration 005), which pg and Neon hand over as a
 * string; as float8 every driver gives a number, exact because the ids stop at 2^53 - 1 (006).
 */
const COLUMNS = `id::float8 AS id, task, done, ${TIMES}, position, version`;
/** A main_table row a write function returned (`row`, an SQL expression), as the answer's task: the columns of COLUMNS, in its order. */
const written = (row: string) =>
  `(${row}).id, (${row}).task, (${row}).done, ${iso(`(${row}).created_at`)} AS "createdAt", ${iso(`(${row}).updated_at`)} AS "updatedAt", (${row}).position, (${row}).version`;

/** Where a page in position order ends: the last task's position and id (schemas.ts `positionCursor`). */
export interface PositionCursor {
  position: string;
  id: number;
}

/** A write's answer as the client receives it: the HTTP status and the JSON body, byte for byte. */
export interface Answer {
  status: number;
  body: string;
}

/** The parameters of one statement; `add` returns each one's placeholder ($1, $2, …). */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * A write as one statement's common table expressions: they end with one named `answer (status,
 * body)` that has exactly one row when the write ran. The write runs only where `gate`, an SQL
 * condition, holds: `true` for a plain write, a keyed write's claim on its key (idempotency.ts).
 * It calls the write functions of migrations 007–013, so main_table is locked only when the write
 * runs, not when the statement is parsed. The body is built by `row_to_json`, whose output is
 * JSON.stringify's for the same object (no spaces, keys in column order, the same string escapes),
 * so it is exactly what c.json would send.
 */
export type TaskWrite = (p: Params, gate: string) => string;

/** `{"success":true,"message":…,<key>:<value>}` for the row(s) of `from`, as the body of `answer`. */
const success = (status: number, p: Params, message: string, field: string, from: string) =>
  `SELECT ${status} AS status, row_to_json(a)::text AS body FROM (SELECT true AS success, ${p.add(message)}::text AS message, ${field} FROM ${from}) a`;

/**
 * An If-Match condition on a write (RFC 9110 §13.1.1): it runs only when the task's version is one
 * of `versions` (an empty list matches none); otherwise the answer is 412 with `message` and the
 * task as it is now. A write without one runs whatever the version (no If-Match, or `*`).
 */
export interface VersionCondition {
  versions: number[];
  message: string;
}

/** The 412 answer's row, for the current task in `current`: `{"success":false,"message":…,"code":"precondition_failed","task":…}`. */
const preconditionFailed = (p: Params, condition: VersionCondition | undefined) =>
  condition
    ? `UNION ALL SELECT 412, row_to_json(a)::text FROM (SELECT false AS success, ${p.add(condition.message)}::text AS message,
         'precondition_failed'::text AS code, row_to_json(current) AS task FROM current) a`
    : '';

/**
 * The writes the API makes, with their answers; `notFound` is the 404 body when no row has the
 * id. PUT, PATCH and DELETE take an optional If-Match `condition`, checked inside the write
 * function's own UPDATE or DELETE (migration 010), so no other write comes between check and write.
 */
export const taskWrites = {
  create: (task: string, message: string): TaskWrite => (p, gate) =>
    `wr AS MATERIALIZED (SELECT task_create(${p.add(task)}::varchar) AS r WHERE ${gate}),
     w AS (SELECT ${written('r')} FROM wr),
     answer AS (${success(201, p, message, 'row_to_json(w) AS task', 'w')})`,

  /** PUT and PATCH: the fields given change (a move changes only `position`: one row, migration 012). */
  update: (id: number, changes: { task?: string; done?: boolean; position?: string }, message: string, notFound: string, condition?: VersionCondition): TaskWrite => (p, gate) =>
    `wr AS MATERIALIZED (SELECT task_update(${p.add(id)}::bigint, ${p.add(changes.task ?? null)}::varchar, ${p.add(changes.done ?? null)}::boolean,
                                            ${p.add(changes.position ?? null)}::text, ${p.add(condition?.versions ?? null)}::integer[]) AS u WHERE ${gate}),
     w AS (SELECT ${written('(u).t')} FROM wr WHERE (u).written),
     current AS (SELECT ${written('(u).t')} FROM wr WHERE NOT (u).written),
     answer AS (${success(200, p, message, 'row_to_json(w) AS task', 'w')}
                ${preconditionFailed(p, condition)}
                UNION ALL SELECT 404, ${p.add(notFound)}::text WHERE ${gate} AND NOT EXISTS (SELECT FROM wr))`,

  /**
   * Toggle all: every task in `ids` done (or not), one statement (migration 011); the answer is
   * `{"success":true,"message":…,"tasks":[Task…]}` with every named task that exists, ascending id.
   */
  setDone: (ids: readonly number[], done: boolean, message: string): TaskWrite => (p, gate) =>
    `wr AS MATERIALIZED (SELECT task_set_done(${p.add(ids)}::bigint[], ${p.add(done)}::boolean) AS r WHERE ${gate}),
     w AS (SELECT ${written('r')} FROM wr),
     answer AS (SELECT 200 AS status, row_to_json(a)::text AS body FROM (SELECT true AS success, ${p.add(message)}::text AS message,
                  COALESCE((SELECT array_to_json(array_agg(w ORDER BY w.id)) FROM w), '[]'::json) AS tasks) a WHERE ${gate})`,

  /**
   * Undo of a delete: the tasks with these ids put back as the database recorded them when they
   * were deleted, at the recorded version + 1, one statement (migration 013's `task_restore`). Ids
   * without a record of the last 24 h are left out; the answer is
   * `{"success":true,"message":…,"tasks":[Task…]}` with the restored ones, ascending id.
   */
  restore: (ids: readonly number[], message: string): TaskWrite => (p, gate) =>
    `wr AS MATERIALIZED (SELECT task_restore(${p.add(ids)}::bigint[]) AS r WHERE ${gate}),
     w AS (SELECT ${written('r')} FROM wr),
     answer AS (SELECT 200 AS status, row_to_json(a)::text AS body FROM (SELECT true AS success, ${p.add(message)}::text AS message,
                  COALESCE((SELECT array_to_json(array_agg(w ORDER BY w.id)) FROM w), '[]'::json) AS tasks) a WHERE ${gate})`,

  remove: (id: number, message: string, notFound: string, condition?: VersionCondition): TaskWrite => (p, gate) =>
    `wr AS MATERIALIZED (SELECT task_delete(${p.add(id)}::bigint, ${p.add(condition?.versions ?? null)}::integer[]) AS u WHERE ${gate}),
     w AS (SELECT ((u).t).id FROM wr WHERE (u).written),
     current AS (SELECT ${written('(u).t')} FROM wr WHERE NOT (u).written),
     answer AS (${success(200, p, message, 'w.id', 'w')}
                ${preconditionFailed(p, condition)}
                UNION ALL SELECT 404, ${p.add(notFound)}::text WHERE ${gate} AND NOT EXISTS (SELECT FROM wr))`,
};

/** `…,"version":3}}`: the end of every body that carries a task (see answerVersion). */
const TRAILING_VERSION = /,"version":([0-9]+)\}\}$/;

/**
 * The version of the task an answer body is about (a 200 or 201 with `task`, a 412), for its
 * ETag; undefined for other answers (a delete's 200, a 404). Read from the body's end rather than
 * parsed: these bodies are built by the statements above, where `task` is the last key of the
 * body and `version` the last column of `written` and COLUMNS, and any `"` inside the task's text
 * is escaped, so the text can never end the body.
 */
export function answerVersion(body: string): number | undefined {
  const m = TRAILING_VERSION.exec(body);
  return m ? Number(m[1]) : undefined;
}

/**
 * Every statement here and in idempotency.ts has a fixed text (values are parameters), so each is
 * prepared once per connection: a write statement of common table expressions costs PostgreSQL
 * more to parse and plan than to run (bench/README.md, "Keyed writes").
 */
export const PREPARED: QueryOptions = { prepare: true };

/** All SQL for tasks lives here; routes never write SQL. */
export function taskRepository(db: Queryable) {
  return {
    /** Keyset page in ascending id order; one extra row tells whether another page exists. */
    async list(limit: number, afterId = 0): Promise<{ tasks: Task[]; nextAfterId: number | null }> {
      const rows = await db.query<Task & Record<string, unknown>>(
        `SELECT ${COLUMNS} FROM main_table WHERE id > $1 ORDER BY id LIMIT $2`,
        [afterId, limit + 1],
        PREPARED,
      );
      const more = rows.length > limit;
      const tasks = more ? rows.slice(0, limit) : rows;
      return { tasks, nextAfterId: more ? tasks[tasks.length - 1]!.id : null };
    },

    /**
     * Keyset page in the person's order, `position` then id (the index of migration 012), after
     * the task at `after` (its position and id); one extra row tells whether another page exists.
     */
    async listByPosition(limit: number, after?: PositionCursor): Promise<{ tasks: Task[]; next: PositionCursor | null }> {
      const rows = await db.query<Task & Record<string, unknown>>(
        after
          ? `SELECT ${COLUMNS} FROM main_table WHERE (position, id) > ($1::text COLLATE "C", $2::bigint) ORDER BY position, id LIMIT $3`
          : `SELECT ${COLUMNS} FROM main_table ORDER BY position, id LIMIT $1`,
        after ? [after.position, after.id, limit + 1] : [limit + 1],
        PREPARED,
      );
      const more = rows.length > limit;
      const tasks = more ? rows.slice(0, limit) : rows;
      const last = tasks[tasks.length - 1];
      return { tasks, next: more && last ? { position: last.position, id: last.id } : null };
    },

    async get(id: number): Promise<Task | undefined> {
      return (await db.query<Task & Record<string, unknown>>(`SELECT ${COLUMNS} FROM main_table WHERE id = $1`, [id], PREPARED))[0];
    },

    /** Runs a write without an Idempotency-Key: one statement, its answer. */
    async write(write: TaskWrite): Promise<Answer> {
      const p = new Params();
      const sql = `WITH ${write(p, 'true')} SELECT status, body FROM answer`;
      return (await db.query<Answer & Record<string, unknown>>(sql, p.values, PREPARED))[0]!;
    },
  };
}

export type TaskRepository = ReturnType<typeof taskRepository>;

/**
 * Route middleware: gives the request its repository as `c.var.tasks`, over the database `db`
 * opens (once; the repository is made again only when `db` hands over another one). Listed after
 * the Idempotency-Key middleware on the write routes, so a refused key never opens the database.
 */
export function withTaskRepository(db: () => Promise<Db>): MiddlewareHandler {
  let made: { db: Db; tasks: TaskRepository } | undefined;
  return async (c, next) => {
    const d = await db();
    if (made?.db !== d) {
      // Reads are tried once more on a new connection when their session is terminated; writes are not (db/read-retry.ts).
      const reads = taskRepository(retryingReads(d));
      made = { db: d, tasks: { ...taskRepository(d), list: reads.list, listByPosition: reads.listByPosition, get: reads.get } };
    }
    c.set('tasks', made.tasks);
    await next();
  };
}

declare module 'hono' {
  interface ContextVariableMap {
    /** The request's task repository (withTaskRepository). */
    tasks: TaskRepository;
  }
}
