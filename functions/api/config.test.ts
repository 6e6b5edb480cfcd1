import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config';

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
