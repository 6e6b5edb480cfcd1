import { createPgliteDb } from './db/pglite';
import { describeContract } from './contract';

describeContract('pglite', async () => {
  const db = await createPgliteDb('memory://');
  return { db, cleanup: () => db.close() };
});
