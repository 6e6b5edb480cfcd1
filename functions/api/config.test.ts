import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
    expect(c.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(c.migrateOnStart).toBe(false);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT must be an integer from 0 to 65535'],
    [{ PORT: '70000' }, 'PORT must be an integer from 0 to 65535'],
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
    expect(loadConfig({}).version).toMatch(/^\d+\.\d+\.\d+/);
    expect(loadConfig({ npm_package_version: '4.5.6' }).version).toBe('4.5.6');
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

  it.each([
    [{ DATABASE_URL: 'postgres://127.0.0.1:55532/postgres', DB_PORT: '5432' }, undefined, 'the database port is given by DB_PORT and by DATABASE_URL with different values'],
    [{ DATABASE_URL: 'postgres://a/x', DB_HOST: 'b' }, undefined, 'the database host is given by DB_HOST and by DATABASE_URL'],
    [{ DB_HOST: 'db', DB_NAME: 'tasks' }, { dbname: 'other' }, 'the database name is given by the "dbname" file in DB_CREDENTIALS_DIR and by DB_NAME'],
    [{ DATABASE_URL: 'postgres://owner:hunter2@db/x' }, {}, 'the database user is given by the "username" file in DB_CREDENTIALS_DIR and by DATABASE_URL'],
    [{ DB_HOST: 'db', DB_PORT: '5432' }, { port: '6543' }, 'the database port is given by the "port" file in DB_CREDENTIALS_DIR and by DB_PORT'],
    [{ DB_HOST: 'db' }, { port: 'five' }, 'the "port" file in DB_CREDENTIALS_DIR must hold an integer from 1 to 65535'],
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
