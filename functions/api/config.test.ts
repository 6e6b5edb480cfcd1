import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'pg-connection-string';
import { ConfigError, dbConnection, loadConfig } from './config';

describe('loadConfig', () => {
  it('defaults to PGlite in .data with both features on', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 3000, driver: 'pglite', pgliteDir: '.data/pglite', migrateOnStart: true, features: { editTask: true, deleteTask: true }, corsOrigins: [], revision: null });
  });

  it('picks pg when a database is configured, neon for *.neon.tech hosts', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/x' }).driver).toBe('pg');
    expect(loadConfig({ DB_HOST: 'database' }).driver).toBe('pg');
    expect(loadConfig({ DB_CREDENTIALS_DIR: '/var/run/secrets/db' }).driver).toBe('pg');
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@ep-cool-1.eu-central-1.aws.neon.tech/x' }).driver).toBe('neon');
    expect(loadConfig({ DB_HOST: 'ep-cool-1.aws.neon.tech' }).driver).toBe('neon');
    expect(loadConfig({ DB_HOST: 'database', DB_DRIVER: 'neon' }).driver).toBe('neon');
  });

  it("reads the previous system's variable names", () => {
    const c = loadConfig({ DB_HOST: 'database', DB_PORT: '6543', DB_NAME: 'postgres', DB_USER: 'postgres', DB_PASSWORD: 's', FEATURE_EDIT_TASK: 'false', FEATURE_DELETE_TASK: 'FALSE', K_REVISION: 'tasks-api-00001', PORT: '8080', CORS_ORIGINS: 'https://a.example, https://b.example' });
    expect(c.db).toMatchObject({ host: 'database', port: 6543, database: 'postgres', user: 'postgres', password: 's' });
    expect(c.features).toEqual({ editTask: false, deleteTask: false });
    expect(c.revision).toBe('tasks-api-00001');
    expect(c.port).toBe(8080);
    expect(loadConfig({ PORT: '0' }).port).toBe(0);
    expect(c.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(c.migrateOnStart).toBe(false);
  });

  it.each<[Record<string, string>, string]>([
    [{ PORT: 'eighty' }, 'PORT must be an integer from 0 to 65535'],
    [{ PORT: '70000' }, 'PORT must be an integer from 0 to 65535'],
    // One form for every number, as the nginx entrypoint reads its own: digits, no leading zero.
    ...['080', '00', ' 80', '80 ', '+80', '8e1', '0x50', '80.0', '-1'].map((v): [Record<string, string>, string] => [{ PORT: v }, 'PORT must be an integer from 0 to 65535, in digits without a leading zero']),
    [{ DB_HOST: 'db', DB_PORT: '05432' }, 'DB_PORT must be an integer from 1 to 65535, in digits without a leading zero'],
    [{ REQUEST_TIMEOUT_MS: '015000' }, 'REQUEST_TIMEOUT_MS must be an integer from 200 to 600000, in digits without a leading zero'],
    [{ DB_STATEMENT_TIMEOUT_MS: '05000' }, 'DB_STATEMENT_TIMEOUT_MS must be an integer from 100 to 600000'],
    [{ DB_CONNECT_TIMEOUT_MS: '1e4' }, 'DB_CONNECT_TIMEOUT_MS must be an integer from 100 to 120000'],
    [{ DB_POOL_MAX: '010' }, 'DB_POOL_MAX must be an integer from 1 to 1000'],
    [{ SHUTDOWN_TIMEOUT_MS: '010000' }, 'SHUTDOWN_TIMEOUT_MS must be an integer from 0 to 600000'],
    // Read by `migrate` from the same table (before, Number() took 'soon' as NaN and '060' as 60).
    [{ MIGRATE_WAIT_SECONDS: 'soon' }, 'MIGRATE_WAIT_SECONDS must be an integer from 0 to 86400'],
    [{ MIGRATE_WAIT_SECONDS: '060' }, 'MIGRATE_WAIT_SECONDS must be an integer from 0 to 86400, in digits without a leading zero'],
    [{ DATABASE_URL: 'postgres://a/x?port=05432' }, "DATABASE_URL's ?port= parameter must be an integer from 1 to 65535, in digits without a leading zero"],
    [{ DB_DRIVER: 'mysql' }, 'DB_DRIVER must be one of pg, neon, pglite'],
    [{ FEATURE_EDIT_TASK: 'maybe' }, 'FEATURE_EDIT_TASK must be one of true, false, 1, 0, yes, no, on, off (any case)'],
    [{ DB_TABLE: 'tasks' }, 'DB_TABLE is not supported: migrations own the schema'],
    [{ DB_COLUMN_TASK: 'title' }, 'DB_COLUMN_TASK is not supported'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of'],
    [{ DB_DRIVER: 'pg' }, 'DB_DRIVER=pg needs DATABASE_URL, DB_HOST or DB_CREDENTIALS_DIR'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL is not a valid URL'],
  ])('rejects %o naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('accepts the previous system\'s schema variables only with the names the migrations use', () => {
    expect(() => loadConfig({ DB_TABLE: 'main_table', DB_COLUMN_ID: 'id', DB_COLUMN_TASK: 'task' })).not.toThrow();
  });

  it('reports the package version when no version is set', () => {
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    expect(loadConfig({}).version).toBe(version);
    // package.json, not what npm says: npm sets npm_package_version for whichever package's script runs.
    expect(loadConfig({ npm_package_version: '4.5.6' }).version).toBe(version);
  });

  it('never echoes a password in its errors', () => {
    try {
      loadConfig({ DATABASE_URL: 'postgres://u:hunter2@db:5432/x', PORT: 'x' });
      expect.unreachable();
    } catch (err) {
      expect(String(err)).not.toContain('hunter2');
    }
  });

  it('keeps the time budgets in order: pool wait + statement below the request budget', () => {
    expect(loadConfig({})).toMatchObject({ requestTimeoutMs: 15000, db: { connectTimeoutMs: 5000, statementTimeoutMs: 5000 } });
    expect(() => loadConfig({ DB_STATEMENT_TIMEOUT_MS: '10000' })).toThrow('REQUEST_TIMEOUT_MS must be above DB_CONNECT_TIMEOUT_MS + DB_STATEMENT_TIMEOUT_MS');
    expect(loadConfig({ DB_STATEMENT_TIMEOUT_MS: '10000', REQUEST_TIMEOUT_MS: '20000' }).requestTimeoutMs).toBe(20000);
  });
});

describe('database settings from DATABASE_URL, DB_* and DB_CREDENTIALS_DIR (dbConnection)', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const credentials = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'tasks-config-creds-'));
    dirs.push(dir);
    for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, k), v);
    return dir;
  };
  const connection = (env: Record<string, string>) => dbConnection(loadConfig(env).db);

  // The failing input: the URL's port was replaced by DB_PORT's default.
  it("keeps DATABASE_URL's port when a credentials directory is mounted", () => {
    const dir = credentials({ username: 'app', password: 'pw' });
    const c = loadConfig({ DATABASE_URL: 'postgres://127.0.0.1:55532/postgres', DB_CREDENTIALS_DIR: dir });
    expect(dbConnection(c.db, { username: 'app', password: 'pw' })).toMatchObject({ host: '127.0.0.1', port: 55532, database: 'postgres', user: 'app', password: 'pw' });
  });

  it('takes each setting from whichever source gives it; 5432 only when none gives a port', () => {
    expect(connection({ DB_HOST: 'db' })).toEqual({ host: 'db', port: 5432 });
    expect(connection({ DATABASE_URL: 'postgres://u@db:6000/x?sslmode=require', DB_PASSWORD: 's' })).toEqual({ host: 'db', port: 6000, database: 'x', user: 'u', password: 's', ssl: true });
    expect(dbConnection(loadConfig({ DB_HOST: 'db', DB_PORT: '6543' }).db, { username: 'a', password: 'b', host: 'DB', port: 6543, dbname: 'tasks' })).toEqual({ host: 'DB', port: 6543, database: 'tasks', user: 'a', password: 'b' });
    // The URL alone is passed on as it is (its other parameters keep working).
    expect(connection({ DATABASE_URL: 'postgres://u:p@db/x?application_name=t' })).toEqual({ connectionString: 'postgres://u:p@db/x?application_name=t' });
  });

  it("moves a setting given only as a query parameter into the URL's own part, where both drivers read it", () => {
    // pg reads ?port= and ?user= but Neon's driver reads only the URL's parts, and neither reads
    // ?dbname= or ?database=: the same URL would reach another server or database per driver.
    expect(connection({ DATABASE_URL: 'postgres://db/x?port=6000&sslmode=require' })).toEqual({ connectionString: 'postgres://db:6000/x?sslmode=require' });
    expect(connection({ DATABASE_URL: 'postgres://db?dbname=tasks&application_name=t' })).toEqual({ connectionString: 'postgres://db/tasks?application_name=t' });
    expect(connection({ DATABASE_URL: 'postgres://db/x?user=a%40b&password=p%25w' })).toEqual({ connectionString: 'postgres://a%40b:p%25w@db/x' });
    // Agreeing with the URL's part: the parameter goes, the value stays.
    expect(connection({ DATABASE_URL: 'postgres://u@DB:6000/x?port=6000&host=db&dbname=x' })).toEqual({ connectionString: 'postgres://u@DB:6000/x' });
    // A socket directory cannot be a URL's host: it stays a parameter, which pg reads.
    expect(connection({ DATABASE_URL: 'postgres:///x?host=%2Fvar%2Frun%2Fpostgresql' })).toEqual({ connectionString: 'postgres:///x?host=%2Fvar%2Frun%2Fpostgresql' });
    // With another source the settings are merged, the parameter's among them.
    expect(connection({ DATABASE_URL: 'postgres://db/x?port=6000&dbname=x', DB_PASSWORD: 's' })).toEqual({ host: 'db', port: 6000, database: 'x', password: 's' });
    expect(connection({ DATABASE_URL: 'postgres://db/x?statement_timeout=5000' })).toEqual({ connectionString: 'postgres://db/x?statement_timeout=5000' });
    expect(connection({ DATABASE_URL: 'postgres://[::1]/x?host=::1&port=6000' })).toEqual({ connectionString: 'postgres://[::1]:6000/x' });
    expect(connection({ DATABASE_URL: 'postgres://db/x?port=6000' , DB_HOST: 'db' })).toEqual({ host: 'db', port: 6000, database: 'x' });
  });

  it.each([
    [{ DATABASE_URL: 'postgres://127.0.0.1:55532/postgres', DB_PORT: '5432' }, undefined, 'the database port is given by DB_PORT and by DATABASE_URL with different values'],
    [{ DATABASE_URL: 'postgres://a/x', DB_HOST: 'b' }, undefined, 'the database host is given by DB_HOST and by DATABASE_URL'],
    [{ DB_HOST: 'db', DB_NAME: 'tasks' }, { dbname: 'other' }, 'the database name is given by the "dbname" file in DB_CREDENTIALS_DIR and by DB_NAME'],
    [{ DATABASE_URL: 'postgres://owner:hunter2@db/x' }, {}, 'the database user is given by the "username" file in DB_CREDENTIALS_DIR and by DATABASE_URL'],
    [{ DB_HOST: 'db', DB_PORT: '5432' }, { port: '6543' }, 'the database port is given by the "port" file in DB_CREDENTIALS_DIR and by DB_PORT'],
    [{ DB_HOST: 'db' }, { port: 'five' }, 'the "port" file in DB_CREDENTIALS_DIR must hold an integer from 1 to 65535'],
    [{ DB_HOST: 'db' }, { port: '05432' }, 'the "port" file in DB_CREDENTIALS_DIR must hold an integer from 1 to 65535, in digits without a leading zero'],
    // Query parameters pg reads in place of the URL's own parts (pg-connection-string), or that
    // neither driver reads (dbname, database): a second source like any other.
    [{ DATABASE_URL: 'postgres://u:hunter2@127.0.0.1:55532/postgres?port=5432' }, undefined, "the database port is given by DATABASE_URL and by DATABASE_URL's ?port= parameter with different values"],
    [{ DATABASE_URL: 'postgres://u:hunter2@a/x?host=b' }, undefined, "the database host is given by DATABASE_URL and by DATABASE_URL's ?host= parameter"],
    [{ DATABASE_URL: 'postgres://u:hunter2@a/x?user=owner' }, undefined, "the database user is given by DATABASE_URL and by DATABASE_URL's ?user= parameter"],
    [{ DATABASE_URL: 'postgres://u:pw@a/x?password=hunter2' }, undefined, "the database password is given by DATABASE_URL and by DATABASE_URL's ?password= parameter"],
    [{ DATABASE_URL: 'postgres://a/x?dbname=other' }, undefined, "the database name is given by DATABASE_URL and by DATABASE_URL's ?dbname= parameter"],
    [{ DATABASE_URL: 'postgres://a/x?database=other' }, undefined, "the database name is given by DATABASE_URL and by DATABASE_URL's ?database= parameter"],
    [{ DATABASE_URL: 'postgres://a/?dbname=x&database=other' }, undefined, "the database name is given by DATABASE_URL's ?dbname= parameter and by DATABASE_URL's ?database= parameter"],
    [{ DATABASE_URL: 'postgres://a/x?port=55532&port=5432' }, undefined, "the database port is given by DATABASE_URL's ?port= parameter and by DATABASE_URL's ?port= parameter (repeated)"],
    [{ DATABASE_URL: 'postgres://127.0.0.1/postgres?port=55532', DB_PORT: '5432' }, undefined, "the database port is given by DB_PORT and by DATABASE_URL's ?port= parameter"],
    [{ DATABASE_URL: 'postgres://127.0.0.1/postgres?user=other', DB_USER: 'app' }, undefined, "the database user is given by DB_USER and by DATABASE_URL's ?user= parameter"],
    [{ DATABASE_URL: 'postgres://127.0.0.1/postgres?port=55532' }, { port: '5432' }, 'the database port is given by the "port" file in DB_CREDENTIALS_DIR and by DATABASE_URL\'s ?port= parameter'],
    [{ DATABASE_URL: 'postgres://127.0.0.1/postgres?password=hunter2' }, {}, 'the database password is given by the "password" file in DB_CREDENTIALS_DIR and by DATABASE_URL\'s ?password= parameter'],
    [{ DATABASE_URL: 'postgres://a/x?port=five' }, undefined, "DATABASE_URL's ?port= parameter must be an integer from 1 to 65535"],
    // pg sends it as a start-up parameter in place of DB_STATEMENT_TIMEOUT_MS, the one checked against the request budget.
    [{ DATABASE_URL: 'postgres://a/x?statement_timeout=0' }, undefined, "the statement timeout is given by DB_STATEMENT_TIMEOUT_MS (or its default) and by DATABASE_URL's ?statement_timeout= parameter with different values"],
    [{ DATABASE_URL: 'postgres://u:hunter2%@a/x' }, undefined, 'DATABASE_URL has a malformed %-escape'],
    // Merged with other sources, only sslmode is carried over: ?ssl=true would have been dropped (no TLS).
    [{ DATABASE_URL: 'postgres://a/x?ssl=true' }, {}, "DATABASE_URL's ?ssl= parameter is not used when DB_* variables or DB_CREDENTIALS_DIR give database settings too"],
  ])('a contradiction stops start-up naming both sources, never a value: %o %o', (env, files, message) => {
    const e: Record<string, string> = { ...env };
    if (files) e.DB_CREDENTIALS_DIR = credentials({ username: 'app', password: 'pw', ...files });
    let err: unknown;
    try {
      loadConfig(e);
    } catch (caught) {
      err = caught;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(String(err)).toContain(message);
    for (const secret of ['hunter2', 'pw', '55532', 'other']) expect(String(err)).not.toContain(secret);
  });
});

// libpq's socket form, read by pg (pg-connection-string) as libpq reads it: with no host in the URL
// the port, user and password stay parameters, where pg reads them (a URL without a host cannot
// carry them in its own parts).
describe('a socket-form DATABASE_URL (empty host)', () => {
  const parsed = (env: Record<string, string>) => {
    const c = dbConnection(loadConfig({ DB_DRIVER: 'pg', ...env }).db);
    if (!('connectionString' in c)) throw new Error('expected the URL to be passed on');
    return { ...parse(c.connectionString) };
  };

  it.each([
    ['postgres:///tasks?host=/run/pg&port=5433&user=u&password=p', { host: '/run/pg', port: '5433', user: 'u', password: 'p', database: 'tasks' }],
    ['postgres://u:p@/tasks?host=/run/pg&port=5433', { host: '/run/pg', port: '5433', user: 'u', password: 'p', database: 'tasks' }],
    ['postgres://u@/?dbname=tasks&host=%2Frun%2Fpg&port=5433', { host: '/run/pg', port: '5433', user: 'u', database: 'tasks' }],
    ['postgres:///tasks?host=127.0.0.1&port=5433&user=u', { host: '127.0.0.1', port: '5433', user: 'u', database: 'tasks' }],
  ])('%s reaches pg with every setting it names', (url, expected) => {
    expect(parsed({ DATABASE_URL: url })).toMatchObject(expected);
  });

  it('merges with DB_* variables, the port and user kept', () => {
    expect(dbConnection(loadConfig({ DATABASE_URL: 'postgres://u@/tasks?host=/run/pg&port=5433', DB_PASSWORD: 'p' }).db)).toEqual({ host: '/run/pg', port: 5433, database: 'tasks', user: 'u', password: 'p' });
  });

  it('a contradiction with a host-less URL is still one', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u@/tasks?host=/run/pg&user=v' })).toThrow("the database user is given by DATABASE_URL and by DATABASE_URL's ?user= parameter");
  });

  it.each(['postgres://u:hunter2@/tasks?host=/run/pg', 'postgres:///tasks', 'postgres://u:hunter2@/tasks'])('DB_DRIVER=neon refuses %s (no host name)', (url) => {
    expect(() => loadConfig({ DB_DRIVER: 'neon', DATABASE_URL: url })).toThrow(/DB_DRIVER=neon needs a host name/);
    try {
      loadConfig({ DB_DRIVER: 'neon', DATABASE_URL: url });
    } catch (err) {
      expect(String(err)).not.toContain('hunter2');
    }
  });

  it('DB_DRIVER=neon takes a host given as ?host=', () => {
    expect(() => loadConfig({ DB_DRIVER: 'neon', DATABASE_URL: 'postgres://u:p@/tasks?host=ep-x.eu-central-1.aws.neon.tech' })).not.toThrow();
  });

  it("refuses libpq's multi-host form: one host is supported, the password never in the message", () => {
    for (const url of [
      'postgres://h1:5432,h2:5432/db',
      'postgres://u:hunter2@h1:5432,h2:5432/db',
      'postgresql://u:hunter2@h1,h2/db',
      'postgres://h1,h2:5432/db',
      'postgres://u:hunter2@/db?host=h1,h2',
      'postgres://u:hunter2@/db?sslmode=disable&hostaddr=10.0.0.1,10.0.0.2',
    ]) {
      let err: unknown;
      try {
        loadConfig({ DATABASE_URL: url });
      } catch (e) {
        err = e;
      }
      expect(err, url).toBeInstanceOf(ConfigError);
      expect(String((err as Error).message), url).toMatch(/^DATABASE_URL names several hosts \(.+,.+\); one host is supported/);
      expect(String((err as Error).message), url).not.toContain('hunter2');
    }
    // The same list in DB_HOST or the credentials directory's host file is refused alike.
    const dir = mkdtempSync(join(tmpdir(), 'tasks-config-hosts-'));
    for (const [k, v] of Object.entries({ host: 'h1,h2', username: 'u', password: 'hunter2' })) writeFileSync(join(dir, k), v);
    expect(() => dbConnection(loadConfig({ DB_HOST: 'h1,h2' }).db)).toThrow(/^DB_HOST names several hosts; one host is supported/);
    expect(() => dbConnection(loadConfig({ DB_CREDENTIALS_DIR: dir }).db, { host: 'h1,h2', username: 'u', password: 'hunter2' })).toThrow(
      /^the "host" file in DB_CREDENTIALS_DIR names several hosts/,
    );
    rmSync(dir, { recursive: true, force: true });
    // One host, also with a comma elsewhere (an option list), is still one host.
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u:p@h1:5432/db?options=-c%20a%3D1,b' })).not.toThrow();
  });

  it('still refuses what is no URL at all, without quoting it', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u:hunter2@[bad/x' })).toThrow(/^DATABASE_URL is not a valid URL/);
    expect(() => loadConfig({ DATABASE_URL: 'not a url hunter2' })).toThrow(/^DATABASE_URL is not a valid URL/);
  });
});
