import { connect } from 'node:net';
import { WebSocketServer } from 'ws';
import { loadConfig } from '../../functions/api/config';
import type { Db } from '../../functions/api/db';
import { createNeonDb } from '../../functions/api/db/neon';
import { createLogger, type Logger } from '../../functions/api/logger';
import { createTestDatabase } from './postgres';

/**
 * A WebSocket→TCP bridge that does what Neon's wsproxy does in front of Postgres, so the
 * `neon` driver (@neondatabase/serverless Pool over WebSocket) can be tested against the
 * machine's PostgreSQL. Clients connect to ws://127.0.0.1:<port>/v1?address=<host>:<port>.
 */
export async function startNeonBridge(): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  let connections = 0;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  wss.on('connection', (ws, req) => {
    connections++;
    const address = new URL(req.url ?? '/', 'http://bridge').searchParams.get('address') ?? '';
    const [host, port] = address.split(':');
    const tcp = connect({ host, port: Number(port) });
    ws.on('message', (data: Buffer) => tcp.write(data));
    tcp.on('data', (data) => ws.send(data));
    ws.on('close', () => tcp.destroy());
    ws.on('error', () => tcp.destroy());
    tcp.on('close', () => ws.close());
    tcp.on('error', () => ws.close());
  });
  return {
    port: (wss.address() as { port: number }).port,
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

/**
 * A fresh database on the machine's PostgreSQL, opened with the `neon` driver through a bridge.
 * `cleanup` fails when the driver never went through the bridge (proof it used WebSocket), then
 * closes the pool and the bridge and drops the database.
 */
export async function openNeonTestDb(log: Logger = createLogger('silent')): Promise<{ db: Db; cleanup: () => Promise<void> }> {
  const database = await createTestDatabase();
  const bridge = await startNeonBridge();
  const db = createNeonDb(loadConfig({ DB_DRIVER: 'neon', DATABASE_URL: database.url }).db, log, {
    wsProxy: (host: string, port: number | string) => `127.0.0.1:${bridge.port}/v1?address=${host}:${port}`,
    useSecureWebSocket: false,
    pipelineConnect: false,
    pipelineTLS: false,
  });
  return {
    db,
    cleanup: async () => {
      if (bridge.connections() === 0) throw new Error('the neon driver never connected through the bridge');
      await db.close();
      await bridge.close();
      await database.drop();
    },
  };
}
