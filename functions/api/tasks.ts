import type { Queryable } from './db';
import type { Task } from './schemas';

// Timestamps are formatted by Postgres: no Date objects to build and serialise on list calls.
const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const COLUMNS = `id, task, done, ${iso('created_at')} AS "createdAt", ${iso('updated_at')} AS "updatedAt"`;

/** All SQL for tasks lives here; routes never write SQL. */
export function taskStore(db: Queryable) {
  return {
    /** Keyset page in ascending id order; one extra row tells whether another page exists. */
    async list(limit: number, afterId = 0): Promise<{ tasks: Task[]; nextAfterId: number | null }> {
      const rows = await db.query<Task & Record<string, unknown>>(
        `SELECT ${COLUMNS} FROM main_table WHERE id > $1 ORDER BY id LIMIT $2`,
        [afterId, limit + 1],
      );
      const more = rows.length > limit;
      const tasks = more ? rows.slice(0, limit) : rows;
      return { tasks, nextAfterId: more ? tasks[tasks.length - 1]!.id : null };
    },

    async get(id: number): Promise<Task | undefined> {
      return (await db.query<Task & Record<string, unknown>>(`SELECT ${COLUMNS} FROM main_table WHERE id = $1`, [id]))[0];
    },

    async create(task: string): Promise<Task> {
      const rows = await db.query<Task & Record<string, unknown>>(
        `INSERT INTO main_table (task) VALUES ($1) RETURNING ${COLUMNS}`,
        [task],
      );
      return rows[0]!;
    },

    async update(id: number, changes: { task?: string; done?: boolean }): Promise<Task | undefined> {
      const rows = await db.query<Task & Record<string, unknown>>(
        `UPDATE main_table
            SET task = COALESCE($2::varchar, task), done = COALESCE($3::boolean, done), updated_at = now()
          WHERE id = $1
      RETURNING ${COLUMNS}`,
        [id, changes.task ?? null, changes.done ?? null],
      );
      return rows[0];
    },

    async remove(id: number): Promise<boolean> {
      return (await db.query('DELETE FROM main_table WHERE id = $1 RETURNING id', [id])).length > 0;
    },
  };
}

export type TaskStore = ReturnType<typeof taskStore>;
