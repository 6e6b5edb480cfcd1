// The practical limit the API is measured against: node:http + pg answering the same
// queries with the same JSON, and nothing else (no routing, validation, logs or metrics).
import { createServer } from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const iso = (col) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const COLUMNS = `id, task, done, ${iso('created_at')} AS "createdAt", ${iso('updated_at')} AS "updatedAt"`;

createServer(async (req, res) => {
  try {
    if (req.method === 'GET' && req.url === '/api/tasks') {
      const { rows } = await pool.query(`SELECT ${COLUMNS} FROM main_table WHERE id > $1 ORDER BY id LIMIT $2`, [0, 1001]);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: true, tasks: rows, nextCursor: null }));
    } else if (req.method === 'POST' && req.url === '/api/tasks') {
      let body = '';
      for await (const chunk of req) body += chunk;
      const { task } = JSON.parse(body);
      const { rows } = await pool.query(`INSERT INTO main_table (task) VALUES ($1) RETURNING ${COLUMNS}`, [task]);
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: true, message: 'Task added successfully', task: rows[0] }));
    } else {
      res.writeHead(404).end();
    }
  } catch {
    res.writeHead(500).end();
  }
}).listen(Number(process.env.PORT));
