import { createTestDatabase } from '../../test/support/postgres';
import { loadConfig } from './config';
import { createPgDb } from './db/pg';
import { createLogger } from './logger';
import { describeContract } from './contract';

describeContract('pg', async () => {
  const database = await createTestDatabase();
  const db = createPgDb(loadConfig({ DATABASE_URL: database.url }).db, createLogger('silent'));
  return {
    db,
    cleanup: async () => {
      await db.close();
      await database.drop();
    },
  };
});
