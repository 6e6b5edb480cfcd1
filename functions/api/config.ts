import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, parseFlag } from './env.ts';

export { ConfigError } from './env.ts';

/**
 * Configuration, read once at start-up from the environment and validated.
 * A bad value fails fast with an error that names the variable (never its value:
 * some of these hold credentials).
 */

const bool = (name: string, fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      try {
        return parseFlag(name, v, fallback);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });

const int = (name: string, fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `${name} must be an integer from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

const oneOf = <const T extends readonly string[]>(name: string, values: T) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      if ((values as readonly string[]).includes(v.trim())) return v.trim() as T[number];
      ctx.addIssue({ code: 'custom', message: `${name} must be one of ${values.join(', ')}` });
      return z.NEVER;
    });

const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const schema = z.object({
  PORT: int('PORT', 3000, 0, 65535),
  DATABASE_URL: optional,
  DB_HOST: optional,
  DB_PORT: int('DB_PORT', 5432, 1, 65535),
  DB_NAME: optional,
  DB_USER: optional,
  DB_PASSWORD: z.string().optional(),
  DB_CREDENTIALS_DIR: optional,
  DB_DRIVER: oneOf('DB_DRIVER', ['pg', 'neon', 'pglite']),
  DB_POOL_MAX: int('DB_POOL_MAX', 10, 1, 1000),
  DB_CONNECT_TIMEOUT_MS: int('DB_CONNECT_TIMEOUT_MS', 5000, 100, 120000),
  PGLITE_DIR: optional,
  MIGRATE_ON_START: bool('MIGRATE_ON_START', false),
  FEATURE_EDIT_TASK: bool('FEATURE_EDIT_TASK', true),
  FEATURE_DELETE_TASK: bool('FEATURE_DELETE_TASK', true),
  CORS_ORIGINS: optional,
  INTERNAL_TOKEN_FILE: optional,
  LOG_LEVEL: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  APP_VERSION: optional,
  K_REVISION: optional,
  SHUTDOWN_TIMEOUT_MS: int('SHUTDOWN_TIMEOUT_MS', 10000, 0, 600000),
  NODE_ENV: optional,
  // Time budgets, shortest first (platform/values.yaml gives the reasons): a database stall
  // ends in the database, then in the API, before nginx or Knative give up.
  DB_STATEMENT_TIMEOUT_MS: int('DB_STATEMENT_TIMEOUT_MS', 5000, 100, 600000),
  REQUEST_TIMEOUT_MS: int('REQUEST_TIMEOUT_MS', 15000, 200, 600000),
});

/** Set by the production build to the package version. */
declare const __APP_VERSION__: string | undefined;

export type Driver = 'pg' | 'neon' | 'pglite';

/** Where the database is, without the secret parts (those come from DbCredentials). */
export interface DbTarget {
  connectionString?: string;
  host?: string;
  port: number;
  database?: string;
  user?: string;
  password?: string;
  credentialsDir?: string;
  poolMax: number;
  connectTimeoutMs: number;
  /** PostgreSQL's statement_timeout for every pool connection (pg and neon; PGlite has none). */
  statementTimeoutMs: number;
}

export interface Config {
  port: number;
  driver: Driver;
  db: DbTarget;
  pgliteDir: string;
  migrateOnStart: boolean;
  features: { editTask: boolean; deleteTask: boolean };
  corsOrigins: string[];
  internalTokenFile?: string;
  logLevel: string;
  version: string;
  revision: string | null;
  shutdownTimeoutMs: number;
  /** The API's own budget per /api request: after it, a 503 request_budget_exceeded. */
  requestTimeoutMs: number;
}

/**
 * The previous system's backend read the table and column names from DB_TABLE, DB_COLUMN_ID and
 * DB_COLUMN_TASK. Here migrations own the schema, so only its names are accepted: a different
 * value is refused rather than ignored (the API would otherwise read another table than asked).
 */
const FIXED_SCHEMA_NAMES = { DB_TABLE: 'main_table', DB_COLUMN_ID: 'id', DB_COLUMN_TASK: 'task' } as const;

/** The package version for hosts that run the sources (`npm start`, `npm run dev`, tests). */
function packageVersion(env: Record<string, string | undefined>): string {
  if (env.npm_package_version) return env.npm_package_version;
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Parsed once per process: compiling zod's fast path would cost more than it saves.
  const parsed = schema.safeParse(env, { jitless: true });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const variable = String(i.path[0] ?? '');
      // Zod's own messages for enums/types do not name the variable; make sure each line does.
      return i.message.includes(variable) ? i.message : `${variable}: ${i.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;

  for (const [variable, name] of Object.entries(FIXED_SCHEMA_NAMES)) {
    const value = env[variable]?.trim();
    if (value && value !== name) {
      throw new ConfigError(
        `Invalid configuration:\n  ${variable} is not supported: migrations own the schema (table main_table, columns id and task); unset ${variable}`,
      );
    }
  }

  if (e.DATABASE_URL) {
    try {
      new URL(e.DATABASE_URL);
    } catch {
      throw new ConfigError('Invalid configuration:\n  DATABASE_URL is not a valid URL (postgres://user:password@host:port/db)');
    }
  }

  const hasDatabase = Boolean(e.DATABASE_URL || e.DB_HOST || e.DB_CREDENTIALS_DIR);
  const host = e.DATABASE_URL ? new URL(e.DATABASE_URL).hostname : e.DB_HOST;
  const driver: Driver =
    e.DB_DRIVER ?? (!hasDatabase ? 'pglite' : host?.endsWith('.neon.tech') ? 'neon' : 'pg');

  if (driver !== 'pglite' && !hasDatabase) {
    throw new ConfigError(
      `Invalid configuration:\n  DB_DRIVER=${driver} needs DATABASE_URL, DB_HOST or DB_CREDENTIALS_DIR`,
    );
  }

  // A request may wait for a pool client and then run a statement: both must end before the
  // request budget does, so the database (which rolls back) always gives up first.
  if (e.DB_CONNECT_TIMEOUT_MS + e.DB_STATEMENT_TIMEOUT_MS >= e.REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      'Invalid configuration:\n  REQUEST_TIMEOUT_MS must be above DB_CONNECT_TIMEOUT_MS + DB_STATEMENT_TIMEOUT_MS',
    );
  }

  return {
    port: e.PORT,
    driver,
    db: {
      connectionString: e.DATABASE_URL,
      host: e.DB_HOST,
      port: e.DB_PORT,
      database: e.DB_NAME,
      user: e.DB_USER,
      password: e.DB_PASSWORD,
      credentialsDir: e.DB_CREDENTIALS_DIR,
      poolMax: e.DB_POOL_MAX,
      connectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
    },
    pgliteDir: e.PGLITE_DIR ?? '.data/pglite',
    migrateOnStart: e.MIGRATE_ON_START || driver === 'pglite',
    features: { editTask: e.FEATURE_EDIT_TASK, deleteTask: e.FEATURE_DELETE_TASK },
    corsOrigins: e.CORS_ORIGINS ? e.CORS_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean) : [],
    internalTokenFile: e.INTERNAL_TOKEN_FILE,
    logLevel: e.LOG_LEVEL ?? 'info',
    version: e.APP_VERSION ?? (typeof __APP_VERSION__ === 'string' ? __APP_VERSION__ : packageVersion(env)),
    revision: e.K_REVISION ?? null,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
  };
}
