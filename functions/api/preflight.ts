import { writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig, type Config } from './config.ts';
import { assertUnlocked } from './db/directory-lock.ts';
import { ConfigError } from './env.ts';
import { createLogger, errorFields, readByPerson, type ErrorFields, type Logger } from './logger.ts';
import { redact, secretsIn } from './redact.ts';

/**
 * What stopped a start, one exit code per mistake (sysexits.h where one fits), so a script can tell
 * them apart without reading the line. Anything else (a failing migration, an error nobody
 * anticipated) is 1. A database that cannot be reached is not among them: it is waited for.
 */
export const EXIT_CODES = {
  /** Something else: a failing migration, an error nobody anticipated. */
  failure: 1,
  /** EX_DATAERR: the PGlite data directory is damaged, or is not a PGlite data directory. */
  dataDirectoryUnusable: 65,
  /** EX_NOINPUT: the configured database does not exist on its server (SQLSTATE 3D000). */
  databaseMissing: 66,
  /** EX_UNAVAILABLE: the port is already in use. */
  portInUse: 69,
  /** EX_TEMPFAIL: another live process holds the PGlite data directory (it works once that one stops). */
  dataDirectoryLocked: 75,
  /** EX_NOPERM: not allowed to listen on the port. */
  portNotAllowed: 77,
  /** EX_CONFIG: the configuration is wrong. */
  config: 78,
} as const;
export const EXIT_CONFIG = EXIT_CODES.config;
export const EXIT_FAILURE = EXIT_CODES.failure;

/** Error codes whose own message is the whole story for a person: printed as they are, no stack, with their exit code. */
const SELF_EXPLAINING: Record<string, number> = {
  PGLITE_LOCKED: EXIT_CODES.dataDirectoryLocked,
  PGLITE_DAMAGED: EXIT_CODES.dataDirectoryUnusable,
  PGLITE_FOREIGN: EXIT_CODES.dataDirectoryUnusable,
};

/** The `code` of a fatal line for bad configuration, which has no code of its own. */
export const CONFIG_INVALID = 'CONFIG_INVALID';

/** Why a host cannot start, as {@link fatalMessage} tells it. */
export interface Fatal {
  /** The line a person reads (for several bad variables, a header and one indented line each), with the next step. */
  text: string;
  exitCode: number;
  /** False for an error nobody anticipated: its stack goes with it. */
  explained: boolean;
  /** The error's code (errno name, SQLSTATE, PGLITE_…), or {@link CONFIG_INVALID}. */
  code?: string;
}

/**
 * The one line (or, for several bad variables, one block) a person reads when a host cannot start,
 * its exit code and the error's code.
 */
export function fatalMessage(err: unknown): Fatal {
  const e = err as { code?: unknown; message?: unknown; port?: unknown };
  const message = String(e?.message ?? err);
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (err instanceof ConfigError) return { text: `Invalid configuration:\n  ${message}`, exitCode: EXIT_CONFIG, explained: true, code: CONFIG_INVALID };
  switch (code) {
    case 'EADDRINUSE':
      return { text: `port ${e.port} is already in use: stop the other process or set PORT`, exitCode: EXIT_CODES.portInUse, explained: true, code };
    case 'EACCES':
      return { text: `not allowed to listen on port ${e.port}: set PORT to 1024 or above`, exitCode: EXIT_CODES.portNotAllowed, explained: true, code };
    case '3D000': // invalid_catalog_name (PostgreSQL appendix A): the server is there, the database is not
      return {
        text: `${message} on the configured server: create it (\`createdb <name>\`) or point DATABASE_URL at one that exists`,
        exitCode: EXIT_CODES.databaseMissing,
        explained: true,
        code,
      };
  }
  if (code && Object.hasOwn(SELF_EXPLAINING, code)) return { text: message, exitCode: SELF_EXPLAINING[code]!, explained: true, code };
  // By name: importing migrations.ts here would pull the SQL files into every host's pre-flight.
  if ((err as Error)?.name === 'MigrationChangedError') return { text: `start-up migrations failed: ${message}`, exitCode: EXIT_FAILURE, explained: true, code };
  return { text: `cannot start: ${message}`, exitCode: EXIT_FAILURE, explained: false, ...(code ? { code } : {}) };
}

/**
 * The fatal line as a log line, for a program reading stderr (a pipe, a file, the cluster's log
 * collector): one JSON line in the API's log shape (logger.ts), `{"level":"fatal","time":…,
 * "code":…,"exitCode":…,"msg":…}`, the message on one line (several bad variables joined with
 * "; "), and `err` with its stack for an error nobody anticipated. Written whatever LOG_LEVEL
 * says: it is the only account of why the process stopped.
 */
export function fatalLogLine(err: unknown, fatal: Fatal, env: Record<string, string | undefined> = process.env): string {
  const secrets = secretsIn(env);
  let line = '';
  const log = createLogger('fatal', { write: (l) => (line += l) });
  const fields: Record<string, unknown> = { code: fatal.code, exitCode: fatal.exitCode };
  if (!fatal.explained) fields.err = redactedError(err, secrets);
  log.fatal(fields, redact(fatal.text.replace(/:?\n\s*/, ': ').replace(/\s*\n\s*/g, '; '), secrets));
  return line;
}

/** An error's log fields (logger.ts's errorFields, with its stack) without the environment's passwords. */
function redactedError(err: unknown, secrets: string[]): ErrorFields {
  const f = errorFields(err, true);
  return { ...f, message: redact(f.message, secrets), ...(f.stack ? { stack: redact(f.stack, secrets) } : {}) };
}

/**
 * The one fatal path of every host (the bundle and the image, `npm start`, `npm run dev`): what is
 * wrong and what to do on stderr, then exit with the mistake's code ({@link EXIT_CODES}). On a terminal (logger.ts's
 * readByPerson, the rule that picks readable log lines) that is the plain line of
 * {@link fatalMessage}, and an error nobody anticipated is also logged at fatal with its stack
 * when a logger is given; otherwise it is the one JSON line of {@link fatalLogLine}. Passwords
 * from the environment never appear in either.
 */
export function exitOnFatal(err: unknown, log?: Logger, env: Record<string, string | undefined> = process.env): never {
  const fatal = fatalMessage(err);
  let line: string;
  if (readByPerson(process.stderr, env)) {
    if (!fatal.explained) log?.fatal({ err: redactedError(err, secretsIn(env)) }, 'cannot start');
    line = `${redact(fatal.text, secretsIn(env))}\n`;
  } else {
    line = fatalLogLine(err, fatal, env);
  }
  writeSync(2, line); // synchronous: process.exit must not cut the line short
  process.exit(fatal.exitCode);
}

/**
 * What every host checks before it listens, in one order: the API's configuration (host defaults
 * applied first), the page's runtime configuration when the host serves the page, and that no
 * other live process holds the PGlite directory. On any failure it exits through
 * {@link exitOnFatal}, so a host never announces itself and then stops.
 *
 * @param defaults variables a host imposes unless the user set them (`npm start`: MIGRATE_ON_START=true)
 * @param page the page's runtime-config reader (web/server/runtime-config.ts) for hosts that serve
 *   the page, given the API's configuration (what the host knows about its API: the driver)
 */
export function preflight<P = undefined>(
  env: Record<string, string | undefined>,
  opts: { defaults?: Record<string, string>; page?: (env: Record<string, string | undefined>, config: Config) => P } = {},
): { config: Config; page: P } {
  try {
    const config = loadConfig(withDefaults(env, opts.defaults));
    const page = opts.page ? opts.page(env, config) : (undefined as P);
    if (config.driver === 'pglite' && !config.pgliteDir.startsWith('memory://')) assertUnlocked(resolve(config.pgliteDir));
    return { config, page };
  } catch (err) {
    exitOnFatal(err, undefined, env);
  }
}

/** A host's defaults fill only variables that are unset or empty; what the user sets wins. */
export function withDefaults(env: Record<string, string | undefined>, defaults: Record<string, string> = {}) {
  const merged = { ...env };
  for (const [k, v] of Object.entries(defaults)) if (!merged[k]?.trim()) merged[k] = v;
  return merged;
}
