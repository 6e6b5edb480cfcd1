import { describeApiContract } from '../../test/contract/api-contract';
import { inProcessHost } from '../../test/contract/in-process';
import { createTestDatabase } from '../../test/support/postgres';
import { loadConfig } from './config';
import { createPgDb } from './db/pg';
import { createLogger } from './logger';

describeApiContract('in-process on PostgreSQL (pg)', 'pg', inProcessHost('pg', async () => {
  const database = await createTestDatabase();
  const db = createPgDb(loadConfig({ DATABASE_URL: database.url }).db, createLogger('silent'));
  return {
    db,
    cleanup: async () => {
      await db.close();
      await database.drop();
    },
  };
}));
