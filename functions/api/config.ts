import { existsSync } from 'node:fs';
import { z } from 'zod';
import { MountedCredentials, type DbCredentials } from './db/credentials.ts';
import { ConfigError, parseFlag, parseWholeNumber } from './env.ts';
import { packageVersion } from './version.ts';

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

const int = <F extends number | undefined>(name: string, fallback: F, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx): number | F => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = parseWholeNumber(v);
      if (n === undefined || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `${name} must be an integer from ${min} to ${max}, in digits without a leading zero` });
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
  // No default here: 5432 applies only when no source gives a port (dbConnection).
  DB_PORT: int('DB_PORT', undefined, 1, 65535),
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
  // `migrate` only: how long it waits for the database to accept connections.
  MIGRATE_WAIT_SECONDS: int('MIGRATE_WAIT_SECONDS', 60, 0, 86400),
  NODE_ENV: optional,
  // Time budgets, shortest first (platform/values.yaml gives the reasons): a database stall
  // ends in the database, then in the API, before nginx or Knative give up.
  DB_STATEMENT_TIMEOUT_MS: int('DB_STATEMENT_TIMEOUT_MS', 5000, 100, 600000),
  REQUEST_TIMEOUT_MS: int('REQUEST_TIMEOUT_MS', 15000, 200, 600000),
});

export type Driver = 'pg' | 'neon' | 'pglite';

/**
 * Where the database is and how to log in, as the environment gives it: a URL or the DB_* parts
 * (password included), or a mounted credentials directory whose files (DbCredentials) are read
 * when connecting. Never logged: logger.ts redacts the credentials.
 */
export interface DbTarget {
  connectionString?: string;
  host?: string;
  /** DB_PORT when set; see dbConnection for the default. */
  port?: number;
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
  /** `migrate` only: seconds it waits for the database to accept connections (MIGRATE_WAIT_SECONDS). */
  migrateWaitSeconds: number;
  /** The API's own budget per /api request: after it, a 503 request_budget_exceeded. */
  requestTimeoutMs: number;
}

/**
 * The previous system's backend read the table and column names from DB_TABLE, DB_COLUMN_ID and
 * DB_COLUMN_TASK. Here migrations own the schema, so only its names are accepted: a different
 * value is refused rather than ignored (the API would otherwise read another table than asked).
 */
const FIXED_SCHEMA_NAMES = { DB_TABLE: 'main_table', DB_COLUMN_ID: 'id', DB_COLUMN_TASK: 'task' } as const;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Parsed once per process: compiling zod's fast path would cost more than it saves.
  const parsed = schema.safeParse(env, { jitless: true });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const variable = String(i.path[0] ?? '');
      // Zod's own messages for enums/types do not name the variable; make sure each line does.
      return i.message.includes(variable) ? i.message : `${variable}: ${i.message}`;
    });
    throw new ConfigError(`${lines.join('\n  ')}`);
  }
  const e = parsed.data;

  for (const [variable, name] of Object.entries(FIXED_SCHEMA_NAMES)) {
    const value = env[variable]?.trim();
    if (value && value !== name) {
      throw new ConfigError(
        `${variable} is not supported: migrations own the schema (table main_table, columns id and task); unset ${variable}`,
      );
    }
  }

  const hasDatabase = Boolean(e.DATABASE_URL || e.DB_HOST || e.DB_CREDENTIALS_DIR);
  const host = e.DATABASE_URL ? parseDatabaseUrl(e.DATABASE_URL).hostname : e.DB_HOST;
  const driver: Driver =
    e.DB_DRIVER ?? (!hasDatabase ? 'pglite' : host?.endsWith('.neon.tech') ? 'neon' : 'pg');

  if (driver !== 'pglite' && !hasDatabase) {
    throw new ConfigError(
      `DB_DRIVER=${driver} needs DATABASE_URL, DB_HOST or DB_CREDENTIALS_DIR`,
    );
  }

  // A request may wait for a pool client and then run a statement: both must end before the
  // request budget does, so the database (which rolls back) always gives up first.
  if (e.DB_CONNECT_TIMEOUT_MS + e.DB_STATEMENT_TIMEOUT_MS >= e.REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      'REQUEST_TIMEOUT_MS must be above DB_CONNECT_TIMEOUT_MS + DB_STATEMENT_TIMEOUT_MS',
    );
  }

  const db: DbTarget = {
    connectionString: e.DATABASE_URL,
    host: e.DB_HOST,
    port: e.DB_PORT,
    database: e.DB_NAME,
    user: e.DB_USER,
    password: e.DB_PASSWORD === '' ? undefined : e.DB_PASSWORD,
    credentialsDir: e.DB_CREDENTIALS_DIR,
    poolMax: e.DB_POOL_MAX,
    connectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
  };
  // A contradiction between DATABASE_URL, DB_* and the mounted files stops start-up here.
  if (driver !== 'pglite') {
    const files = mountedAtStart(db.credentialsDir);
    const connection = dbConnection(db, files);
    // Neon's driver opens a WebSocket to a host name: a socket directory (or libpq's default
    // socket, no host at all) would fail on the first query instead. A directory not mounted yet
    // may still bring the host.
    const target = connectionHost(connection);
    if (driver === 'neon' && (files !== undefined || !db.credentialsDir) && (target === undefined || target.startsWith('/'))) {
      throw new ConfigError(
        `DB_DRIVER=neon needs a host name: Neon's driver connects over a WebSocket and cannot use ${target ? 'a unix socket directory' : 'the default unix socket (no host given)'}; ` +
          'give the host in DATABASE_URL (postgres://user:password@host/db) or DB_HOST, or use DB_DRIVER=pg',
      );
    }
  }

  return {
    port: e.PORT,
    driver,
    db,
    pgliteDir: e.PGLITE_DIR ?? '.data/pglite',
    migrateOnStart: e.MIGRATE_ON_START || driver === 'pglite',
    features: { editTask: e.FEATURE_EDIT_TASK, deleteTask: e.FEATURE_DELETE_TASK },
    corsOrigins: e.CORS_ORIGINS ? e.CORS_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean) : [],
    internalTokenFile: e.INTERNAL_TOKEN_FILE,
    logLevel: e.LOG_LEVEL ?? 'info',
    version: e.APP_VERSION ?? packageVersion(),
    revision: e.K_REVISION ?? null,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    migrateWaitSeconds: e.MIGRATE_WAIT_SECONDS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
  };
}

/** The settings a database connection is made of, each of which can come from several places. */
type DbSetting = 'host' | 'port' | 'database' | 'user' | 'password';
const DB_SETTINGS: DbSetting[] = ['host', 'port', 'database', 'user', 'password'];

/** How each source names a setting, for messages (never the value: some are secrets). */
const SOURCE_NAMES: Record<DbSetting, [files: string, variable: string]> = {
  host: ['the "host" file in DB_CREDENTIALS_DIR', 'DB_HOST'],
  port: ['the "port" file in DB_CREDENTIALS_DIR', 'DB_PORT'],
  database: ['the "dbname" file in DB_CREDENTIALS_DIR', 'DB_NAME'],
  user: ['the "username" file in DB_CREDENTIALS_DIR', 'DB_USER'],
  password: ['the "password" file in DB_CREDENTIALS_DIR', 'DB_PASSWORD'],
};

/**
 * The query parameters of DATABASE_URL that name a setting: libpq's names (PostgreSQL docs,
 * "Connection URIs"). node-postgres (pg-connection-string) reads host, port, user and password in
 * place of the URL's own parts; Neon's driver reads only the host; neither reads dbname or database.
 */
const URL_PARAMETERS: Record<DbSetting, string[]> = { host: ['host'], port: ['port'], database: ['dbname', 'database'], user: ['user'], password: ['password'] };

/** The parameters the merged settings account for: the settings' own, sslmode, and statement_timeout (checked equal to ours). */
const MERGED_PARAMETERS = new Set([...Object.values(URL_PARAMETERS).flat(), 'sslmode', 'statement_timeout']);

const SETTING_LABELS: Record<DbSetting, string> = { host: 'host', port: 'port', database: 'name', user: 'user', password: 'password' };

/** PostgreSQL's port when no source gives one. */
export const DEFAULT_DB_PORT = 5432;

/** What a pg-compatible Pool is given: the URL as it is, or the merged settings. */
export type DbConnection =
  | { connectionString: string }
  | { host?: string; port: number; database?: string; user?: string; password?: string; ssl?: boolean | { rejectUnauthorized: false } };

type Given = [source: string, value: string | number];

/**
 * The one place the database settings are merged (start-up in loadConfig, and db/pool.ts on every
 * re-read of a rotated credentials directory).
 *
 * Each of host, port, database, user and password may come from four sources, taken in this
 * order: the credentials directory's file (`host`, `port`, `dbname`, `username`, `password`), the
 * `DB_*` variable, the part of `DATABASE_URL`, and its query parameter (URL_PARAMETERS: `?host=`,
 * `?port=`, `?dbname=` or `?database=`, `?user=`, `?password=`; empty ones count as not given, as
 * pg reads them). A setting no source gives takes its default (port 5432; the rest pg's own). Two
 * sources giving different values for one setting is a contradiction: a ConfigError naming both
 * sources and never the values (exit 78 at start-up; on a re-read the pool keeps its current
 * connection settings). So the order decides nothing silently: whichever sources give a setting
 * agree. The same holds for `?statement_timeout=`, which pg sends in place of
 * DB_STATEMENT_TIMEOUT_MS (set or default): it must be that number of milliseconds.
 *
 * Only `DATABASE_URL` (no other source gives anything): the URL is passed on, so its other
 * parameters keep working; a setting's parameter is moved into the URL's own part (except a socket
 * directory as `?host=`), since the drivers read the parameters differently. Otherwise its
 * `sslmode` (anything but `disable`) is kept, and any parameter but sslmode and the settings' own
 * is a ConfigError rather than dropped.
 *
 * @throws ConfigError on a contradiction, a `port` file or `?port=` that is not an integer from 1
 * to 65535, or a malformed %-escape in the URL's user, password or path.
 */
export function dbConnection(target: DbTarget, files?: DbCredentials): DbConnection {
  const parsed = target.connectionString ? parseDatabaseUrl(target.connectionString) : undefined;
  const url = parsed?.url;
  const fromUrl: Partial<Record<DbSetting, string | number>> = {};
  const fromParameters: Record<DbSetting, Given[]> = { host: [], port: [], database: [], user: [], password: [] };
  if (parsed && url) {
    // As pg reads it: percent-decoded (a socket directory as %2F…), an IPv6 address without brackets.
    if (parsed.hostname) fromUrl.host = urlDecoded(parsed.hostname).replace(/^\[(.+)\]$/, '$1');
    if (url.port) fromUrl.port = Number(url.port);
    if (url.pathname.length > 1) fromUrl.database = urlDecoded(url.pathname.slice(1));
    if (url.username) fromUrl.user = urlDecoded(url.username);
    if (url.password) fromUrl.password = urlDecoded(url.password);
    for (const setting of DB_SETTINGS) {
      for (const name of URL_PARAMETERS[setting]) {
        url.searchParams.getAll(name).forEach((value, i) => {
          if (value === '') return;
          const source = `DATABASE_URL's ?${name}= parameter${i > 0 ? ' (repeated)' : ''}`;
          fromParameters[setting].push([source, setting === 'port' ? portNumber(value, source) : value]);
        });
      }
    }
    const timeout = url.searchParams.get('statement_timeout');
    if (timeout !== null && timeout !== '' && parseInt(timeout, 10) !== target.statementTimeoutMs) {
      throw new ConfigError(
        "the statement timeout is given by DB_STATEMENT_TIMEOUT_MS (or its default) and by DATABASE_URL's ?statement_timeout= parameter with different values; " +
          'set DB_STATEMENT_TIMEOUT_MS only (it is checked against REQUEST_TIMEOUT_MS)',
      );
    }
  }
  if (files?.port !== undefined && !(Number.isInteger(files.port) && files.port >= 1 && files.port <= 65535)) {
    throw new ConfigError(`${SOURCE_NAMES.port[0]} must hold an integer from 1 to 65535, in digits without a leading zero`);
  }
  const fromFiles: Partial<Record<DbSetting, string | number>> = {
    host: files?.host,
    port: files?.port,
    database: files?.dbname,
    user: files?.username,
    password: files?.password,
  };
  const fromVariables: Partial<Record<DbSetting, string | number>> = {
    host: target.host,
    port: target.port,
    database: target.database,
    user: target.user,
    password: target.password,
  };
  const merged: Partial<Record<DbSetting, string | number>> = {};
  for (const setting of DB_SETTINGS) {
    const [filesName, variable] = SOURCE_NAMES[setting];
    const given = [
      [filesName, fromFiles[setting]],
      [variable, fromVariables[setting]],
      ['DATABASE_URL', fromUrl[setting]],
      ...fromParameters[setting],
    ].filter((g): g is Given => g[1] !== undefined);
    // As for DATABASE_URL (parseDatabaseUrl): a list of hosts is a failover list, not followed here.
    const list = setting === 'host' ? given.find(([, value]) => String(value).includes(',')) : undefined;
    if (list) throw new ConfigError(`${list[0]} names several hosts; one host is supported: give the one server to connect to (a failover list is not followed)`);
    for (const [source, value] of given.slice(1)) {
      if (!sameValue(setting, value, given[0]![1])) {
        throw new ConfigError(
          `the database ${SETTING_LABELS[setting]} is given by ${given[0]![0]} and by ${source} with different values; ` +
            'give it in one place (or the same value in both)',
        );
      }
    }
    if (given[0]) merged[setting] = given[0][1];
  }
  const onlyUrl = DB_SETTINGS.every((k) => fromFiles[k] === undefined && fromVariables[k] === undefined);
  if (target.connectionString && onlyUrl) return { connectionString: withSettingsInParts(target.connectionString, merged) };
  // The merged settings below carry only sslmode from the URL's parameters: any other would be
  // dropped without a word (?ssl=true among them: a connection without TLS).
  for (const name of new Set(url?.searchParams.keys())) {
    if (!MERGED_PARAMETERS.has(name)) {
      throw new ConfigError(
        `DATABASE_URL's ?${name}= parameter is not used when DB_* variables or DB_CREDENTIALS_DIR give database settings too ` +
          '(only sslmode is): remove it, or give every database setting in DATABASE_URL alone',
      );
    }
  }
  const sslmode = url?.searchParams.get('sslmode');
  return {
    ...(merged.host !== undefined ? { host: String(merged.host) } : {}),
    port: merged.port === undefined ? DEFAULT_DB_PORT : Number(merged.port),
    ...(merged.database !== undefined ? { database: String(merged.database) } : {}),
    ...(merged.user !== undefined ? { user: String(merged.user) } : {}),
    ...(merged.password !== undefined ? { password: String(merged.password) } : {}),
    ...(sslmode && sslmode !== 'disable' ? { ssl: sslmode === 'no-verify' ? { rejectUnauthorized: false as const } : true } : {}),
  };
}

/**
 * DATABASE_URL with each setting given by a query parameter written into the URL's own part and
 * the parameter removed (the values agree: dbConnection checked), so pg and Neon's driver read the
 * same thing. A socket directory (`?host=/run/postgresql`) cannot be a URL's host and stays a
 * parameter; and a URL left without a host cannot carry a port or user info, so there `?port=`,
 * `?user=` and `?password=` stay parameters too, which pg reads as libpq does (Neon's driver needs
 * a host anyway: loadConfig refuses it one without). The URL comes back unchanged, character for
 * character, when it has no such parameter.
 */
function withSettingsInParts(connectionString: string, merged: Partial<Record<DbSetting, string | number>>): string {
  const parsed = parseDatabaseUrl(connectionString);
  const url = parsed.url;
  const socket = String(merged.host).startsWith('/');
  const hasHost = parsed.hostname !== '' || (merged.host !== undefined && !socket);
  const moved = DB_SETTINGS.filter(
    (setting) =>
      URL_PARAMETERS[setting].some((name) => url.searchParams.has(name)) &&
      !(setting === 'host' && socket) &&
      (hasHost || setting === 'database'),
  );
  if (moved.length === 0) return connectionString;
  for (const setting of moved) for (const name of URL_PARAMETERS[setting]) url.searchParams.delete(name);
  const value = (setting: DbSetting) => (moved.includes(setting) && merged[setting] !== undefined ? String(merged[setting]) : undefined);
  const [host, port, user, password, database] = [value('host'), value('port'), value('user'), value('password'), value('database')];
  if (host !== undefined) url.hostname = host.includes(':') ? `[${host}]` : host;
  if (port !== undefined) url.port = port;
  if (user !== undefined) url.username = encodeURIComponent(user);
  if (password !== undefined) url.password = encodeURIComponent(password);
  if (database !== undefined) url.pathname = `/${encodeURIComponent(database)}`;
  return parsed.href();
}

/** DATABASE_URL as parseDatabaseUrl reads it. */
export interface DatabaseUrl {
  /** The URL; with user info before an empty host, its host is a placeholder: read `hostname`. */
  url: URL;
  /** The URL's own host, as written ('' when it has none: a socket directory as `?host=`, or libpq's default socket). */
  hostname: string;
  /** `url` written back (after any change to it), in the form it was given: `user@/db` stays host-less. */
  href(): string;
}

/** What pg-connection-string puts in place of an empty host after user info, so that WHATWG's parser takes it. */
const NO_HOST = '___DUMMY___';

/**
 * The one parser of DATABASE_URL (configuration, labels, secret redaction): a WHATWG URL, as pg
 * (pg-connection-string) reads it, including libpq's user info before an empty host
 * (`postgres://user:password@/db?host=/run/postgresql`), which WHATWG refuses and pg parses with
 * a placeholder host.
 *
 * @throws ConfigError when it is not a URL even so (never quoting it: it may hold a password).
 */
export function parseDatabaseUrl(connectionString: string): DatabaseUrl {
  const invalid = () => new ConfigError('DATABASE_URL is not a valid URL (postgres://user:password@host:port/db)');
  // libpq's multi-host form (postgres://h1:5432,h2:5432/db, ?host=h1,h2) lists servers to try in
  // turn; the drivers here connect to one. Refused by name, without the user info (a password).
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(connectionString)?.[1] ?? '';
  const hosts = authority.slice(authority.lastIndexOf('@') + 1);
  const hostParameter = /[?&]((?:host|hostaddr)=[^&#]*,[^&#]*)/i.exec(connectionString)?.[1];
  if (hosts.includes(',') || hostParameter !== undefined) {
    throw new ConfigError(
      `DATABASE_URL names several hosts (${hostParameter !== undefined ? `?${hostParameter}` : hosts}); one host is supported: ` +
        'give the one server to connect to (a failover list is not followed)',
    );
  }
  try {
    const url = new URL(connectionString);
    return { url, hostname: url.hostname, href: () => url.href };
  } catch {
    // Below: only the user-info form; anything else stays invalid.
  }
  let url: URL;
  try {
    url = new URL(connectionString.replace('@/', `@${NO_HOST}/`));
  } catch {
    throw invalid();
  }
  if (url.hostname !== NO_HOST) throw invalid();
  return {
    url,
    get hostname() {
      return url.hostname === NO_HOST ? '' : url.hostname;
    },
    href: () => (url.hostname === NO_HOST ? url.href.replace(`@${NO_HOST}`, '@') : url.href),
  };
}

/** The host a connection goes to: a name, an address or a socket directory; undefined when none is given (libpq's default socket). */
function connectionHost(connection: DbConnection): string | undefined {
  if (!('connectionString' in connection)) return connection.host;
  const parsed = parseDatabaseUrl(connection.connectionString);
  return parsed.hostname ? urlDecoded(parsed.hostname) : parsed.url.searchParams.get('host') || undefined;
}

/** A `?port=` value: an integer from 1 to 65535, else a ConfigError naming `source`. */
function portNumber(value: string, source: string): number {
  const n = parseWholeNumber(value);
  if (n === undefined || n < 1 || n > 65535) throw new ConfigError(`${source} must be an integer from 1 to 65535, in digits without a leading zero`);
  return n;
}

/** A part of DATABASE_URL, percent-decoded as pg decodes it; a malformed escape is a ConfigError. */
function urlDecoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ConfigError('DATABASE_URL has a malformed %-escape in its user, password or database name (percent-encode them)');
  }
}

/** Host names compare without case (RFC 4343); everything else exactly. */
function sameValue(setting: DbSetting, a: string | number, b: string | number): boolean {
  return setting === 'host' ? String(a).toLowerCase() === String(b).toLowerCase() : String(a) === String(b);
}

/**
 * The credentials directory as it is at start-up, for loadConfig's check. A directory that does
 * not exist (yet) is not checked here: the pool reports it when it first connects.
 */
function mountedAtStart(dir: string | undefined): DbCredentials | undefined {
  if (!dir || !existsSync(dir)) return undefined;
  try {
    return new MountedCredentials(dir).read();
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}`);
  }
}

/** Where the tasks live, for a person: never the password (a DATABASE_URL is shown as host:port/db). */
export function databaseLabel(c: Config): string {
  if (c.driver === 'pglite') return `PGlite in ${c.pgliteDir}`;
  const db = c.db;
  if (db.connectionString) {
    const { url: u, hostname } = parseDatabaseUrl(db.connectionString);
    // libpq's socket form gives the socket directory and the port as parameters.
    const port = u.searchParams.get('port');
    const host = hostname ? u.host : `${u.searchParams.get('host') || 'the default socket'}${port ? `:${port}` : ''}`;
    return `${c.driver} database ${host}${u.pathname}`;
  }
  return `${c.driver} database ${db.host ?? 'from ' + db.credentialsDir}${db.port ? `:${db.port}` : ''}${db.database ? `/${db.database}` : ''}`;
}
