import pg from 'pg';
import type { DbTarget } from '../config';
import type { Logger } from '../logger';
import { createPoolDb } from './pool';
import type { Db } from './types';

export function createPgDb(target: DbTarget, log: Logger): Db {
  return createPoolDb('pg', target, (config) => new pg.Pool(config), log);
}
