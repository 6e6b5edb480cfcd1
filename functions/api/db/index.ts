import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Db } from './types';

export type { Db, Queryable, PoolStats } from './types';

/**
 * Opens the configured driver. Imports are dynamic so a process loads only the driver it uses.
 * `signal` stops a PGlite directory being created (Ctrl+C during a first start).
 */
export async function openDb(config: Config, log: Logger, signal?: AbortSignal): Promise<Db> {
  switch (config.driver) {
    case 'pg':
      return (await import('./pg')).createPgDb(config.db, log);
    case 'neon':
      return (await import('./neon')).createNeonDb(config.db, log);
    case 'pglite':
      return (await import('./pglite')).createPgliteDb(config.pgliteDir, signal);
  }
}
