import { writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig, type Config } from './config.ts';
import { assertUnlocked } from './db/directory-lock.ts';
import { ConfigError } from './env.ts';
import type { Logger } from './logger.ts';

/** sysexits.h EX_CONFIG: the configuration is wrong; everything else that stops a start is 1. */
export const EXIT_CONFIG = 78;
export const EXIT_FAILURE = 1;

/** Error codes whose own message is the whole story for a person: printed as they are, no stack. */
const SELF_EXPLAINING = new Set(['PGLITE_LOCKED', 'PGLITE_DAMAGED', 'PGLITE_FOREIGN']);

/**
 * The one line (or, for several bad variables, one block) a person reads when a host cannot start,
 * and its exit code. `explained` is false for an error nobody anticipated: the caller logs it too,
 * with its stack.
 */
export function fatalMessage(err: unknown): { text: string; exitCode: number; explained: boolean } {
  const e = err as { code?: unknown; message?: unknown; port?: unknown };
  const message = String(e?.message ?? err);
  if (err instanceof ConfigError) return { text: `Invalid configuration:\n  ${message}`, exitCode: EXIT_CONFIG, explained: true };
  switch (e?.code) {
    case 'EADDRINUSE':
      return { text: `port ${e.port} is already in use: stop the other process or set PORT`, exitCode: EXIT_FAILURE, explained: true };
    case 'EACCES':
      return { text: `not allowed to listen on port ${e.port}: set PORT to 1024 or above`, exitCode: EXIT_FAILURE, explained: true };
    case '3D000': // invalid_catalog_name (PostgreSQL appendix A): the server is there, the database is not
      return {
        text: `${message} on the configured server: create it (\`createdb <name>\`) or point DATABASE_URL at one that exists`,
        exitCode: EXIT_FAILURE,
        explained: true,
      };
  }
  if (typeof e?.code === 'string' && SELF_EXPLAINING.has(e.code)) return { text: message, exitCode: EXIT_FAILURE, explained: true };
  // By name: importing migrations.ts here would pull the SQL files into every host's pre-flight.
  if ((err as Error)?.name === 'MigrationChangedError') return { text: `start-up migrations failed: ${message}`, exitCode: EXIT_FAILURE, explained: true };
  return { text: `cannot start: ${message}`, exitCode: EXIT_FAILURE, explained: false };
}

/**
 * The one fatal path of every host (the bundle and the image, `npm start`, `npm run dev`): one plain
 * line on stderr naming what is wrong and what to do, then exit 78 (configuration) or 1. An error
 * nobody anticipated is also logged at fatal with its stack when a logger is given.
 */
export function exitOnFatal(err: unknown, log?: Logger): never {
  const { text, exitCode, explained } = fatalMessage(err);
  if (!explained) log?.fatal({ err }, 'cannot start');
  writeSync(2, `${text}\n`); // synchronous: process.exit must not cut the line short
  process.exit(exitCode);
}

/**
 * What every host checks before it listens, in one order: the API's configuration (host defaults
 * applied first), the page's runtime configuration when the host serves the page, and that no
 * other live process holds the PGlite directory. On any failure it exits through
 * {@link exitOnFatal}, so a host never announces itself and then stops.
 *
 * @param defaults variables a host imposes unless the user set them (`npm start`: MIGRATE_ON_START=true)
 * @param page the page's runtime-config reader (web/server/runtime-config.ts) for hosts that serve the page
 */
export function preflight<P = undefined>(
  env: Record<string, string | undefined>,
  opts: { defaults?: Record<string, string>; page?: (env: Record<string, string | undefined>) => P } = {},
): { config: Config; page: P } {
  try {
    const config = loadConfig(withDefaults(env, opts.defaults));
    const page = opts.page ? opts.page(env) : (undefined as P);
    if (config.driver === 'pglite' && !config.pgliteDir.startsWith('memory://')) assertUnlocked(resolve(config.pgliteDir));
    return { config, page };
  } catch (err) {
    exitOnFatal(err);
  }
}

/** A host's defaults fill only variables that are unset or empty; what the user sets wins. */
export function withDefaults(env: Record<string, string | undefined>, defaults: Record<string, string> = {}) {
  const merged = { ...env };
  for (const [k, v] of Object.entries(defaults)) if (!merged[k]?.trim()) merged[k] = v;
  return merged;
}
