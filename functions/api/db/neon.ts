import { Pool, neonConfig } from '@neondatabase/serverless';
import ws from 'ws';
import type { DbTarget } from '../config';
import type { Logger } from '../logger';
import { createPoolDb, type PgLikePool } from './pool';
import type { Db } from './types';

/** Neon's pg-compatible Pool over WebSocket; `overrides` lets tests point it at a local bridge. */
export function createNeonDb(target: DbTarget, log: Logger, overrides: Partial<typeof neonConfig> = {}): Db {
  // Node < 22 has no global WebSocket.
  neonConfig.webSocketConstructor = ws;
  Object.assign(neonConfig, overrides);
  return createPoolDb('neon', target, (config) => new Pool(config) as unknown as PgLikePool, log);
}
