import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNeonBridge } from '../../../test/support/neon-bridge';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { createNeonDb } from './neon';
import { createPgDb } from './pg';
import type { Db } from './types';

// DB_STATEMENT_TIMEOUT_MS reaches the server as a start-up parameter on both pool drivers.
let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase('tasks_stmt');
});
afterAll(async () => database.drop());

async function check(db: Db) {
  try {
    expect((await db.query<{ statement_timeout: string }>('SHOW statement_timeout'))[0]!.statement_timeout).toBe('1234ms');
    await expect(db.query('SELECT pg_sleep(2)')).rejects.toMatchObject({ code: '57014' });
  } finally {
    await db.close();
  }
}

describe('statement timeout', () => {
  it('pg', async () => {
    await check(createPgDb(loadConfig({ DATABASE_URL: database.url, DB_STATEMENT_TIMEOUT_MS: '1234' }).db, createLogger('silent')));
  });

  it('neon', async () => {
    const bridge = await startNeonBridge();
    try {
      const config = loadConfig({ DB_DRIVER: 'neon', DATABASE_URL: database.url, DB_STATEMENT_TIMEOUT_MS: '1234' });
      await check(
        createNeonDb(config.db, createLogger('silent'), {
          wsProxy: (host: string, port: number | string) => `127.0.0.1:${bridge.port}/v1?address=${host}:${port}`,
          useSecureWebSocket: false,
          pipelineConnect: false,
          pipelineTLS: false,
        }),
      );
    } finally {
      await bridge.close();
    }
  });
});
