import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Why `dir` is not a PGlite data directory, or undefined when it is one, is empty or does not exist.
 * The rule `npm start` (db/pglite.ts) and `npm run reset` share, so neither opens nor deletes what
 * is someone else's:
 * - not a directory (a regular file);
 * - no `PG_VERSION` (not a database cluster at all);
 * - a PostgreSQL server's data directory: `postmaster.opts` (a server writes it at every start and
 *   leaves it; PGlite never does), or a `postmaster.pid` that is not PGlite's own (PGlite writes
 *   pid `-42` and data directory `/pglite/data` while open, and leaves it when killed).
 */
export function notPgliteReason(dir: string): string | undefined {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) return 'not a directory';
    entries = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (entries.length === 0) return undefined;
  if (!entries.includes('PG_VERSION')) return `no PG_VERSION; it holds ${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}`;
  if (entries.includes('postmaster.opts')) return "a PostgreSQL server's: postmaster.opts";
  if (entries.includes('postmaster.pid')) {
    const [pid, dataDir] = readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n');
    if (pid?.trim() !== '-42' || dataDir?.trim() !== '/pglite/data') return `a PostgreSQL server's: postmaster.pid of process ${pid?.trim()}`;
  }
  return undefined;
}
