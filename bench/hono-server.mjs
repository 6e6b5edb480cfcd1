// The second reference: a bare Hono app on @hono/node-server + pg answering the same queries with
// the same JSON, and nothing else (no validation, logging, metrics or request id). The gap between
// it and the baseline is the framework's; the gap between it and the API is what the API adds.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const iso = (col) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const COLUMNS = `id, task, done, ${iso('created_at')} AS "createdAt", ${iso('updated_at')} AS "updatedAt"`;

const app = new Hono();
app.get('/api/tasks', async (c) => {
  const { rows } = await pool.query(`SELECT ${COLUMNS} FROM main_table WHERE id > $1 ORDER BY id LIMIT $2`, [0, 1001]);
  return c.json({ success: true, tasks: rows, nextCursor: null });
});
app.post('/api/tasks', async (c) => {
  const { task } = await c.req.json();
  const { rows } = await pool.query(`INSERT INTO main_table (task) VALUES ($1) RETURNING ${COLUMNS}`, [task]);
  return c.json({ success: true, message: 'Task added successfully', task: rows[0] }, 201);
});

serve({ fetch: app.fetch, port: Number(process.env.PORT) });
