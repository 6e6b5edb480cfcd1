import { describeApiContract } from '../../test/contract/api-contract';
import { inProcessHost } from '../../test/contract/in-process';
import { createPgliteDb } from './db/pglite';

describeApiContract('in-process on PGlite', 'pglite', inProcessHost('pglite', async () => {
  const db = await createPgliteDb('memory://');
  return { db, cleanup: () => db.close() };
}));
