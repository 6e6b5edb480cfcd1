import { describeApiContract } from '../../test/contract/api-contract';
import { inProcessHost } from '../../test/contract/in-process';
import { createTestDatabase } from '../../test/support/postgres';
import { startNeonBridge } from '../../test/support/neon-bridge';
import { loadConfig } from './config';
import { createNeonDb } from './db/neon';
import { createLogger } from './logger';

// Neon's Pool over WebSocket, through a local WebSocket→TCP bridge to the machine's PostgreSQL.
describeApiContract('in-process on Neon over WebSocket', 'neon', inProcessHost('neon', async () => {
  const database = await createTestDatabase();
  const bridge = await startNeonBridge();
  const db = createNeonDb(loadConfig({ DB_DRIVER: 'neon', DATABASE_URL: database.url }).db, createLogger('silent'), {
    wsProxy: (host: string, port: number | string) => `127.0.0.1:${bridge.port}/v1?address=${host}:${port}`,
    useSecureWebSocket: false,
    pipelineConnect: false,
    pipelineTLS: false,
  });
  return {
    db,
    cleanup: async () => {
      // Proof that the suite really went over WebSocket, not some other path.
      if (bridge.connections() === 0) throw new Error('the neon driver never connected through the bridge');
      await db.close();
      await bridge.close();
      await database.drop();
    },
  };
}));
