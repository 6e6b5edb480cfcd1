import { describe, expect, it } from 'vitest';
import { DirectoryLockedError } from './db/directory-lock';
import { ConfigError } from './env';
import { MigrationChangedError } from './migrations/runner';
import { fatalLogLine, fatalMessage } from './preflight';

// The one printer every host uses when it cannot start: what a person reads, and the exit code.
describe('fatalMessage', () => {
  it('bad configuration: the header once, the variable named, exit 78', () => {
    expect(fatalMessage(new ConfigError('FEATURE_EDIT_TASK must be one of …'))).toEqual({ text: 'Invalid configuration:\n  FEATURE_EDIT_TASK must be one of …', exitCode: 78, explained: true, code: 'CONFIG_INVALID' });
  });

  it('what stops a start without being configuration: one line with the next step, an exit code per mistake', () => {
    const inUse = Object.assign(new Error('listen EADDRINUSE: address already in use :::3000'), { code: 'EADDRINUSE', port: 3000 });
    expect(fatalMessage(inUse)).toEqual({ text: 'port 3000 is already in use: stop the other process or set PORT', exitCode: 69, explained: true, code: 'EADDRINUSE' });
    const locked = new DirectoryLockedError('/x/pglite', 42, 'elsewhere');
    expect(fatalMessage(locked)).toEqual({ text: locked.message, exitCode: 75, explained: true, code: 'PGLITE_LOCKED' });
    const missing = Object.assign(new Error('database "tasks" does not exist'), { code: '3D000' });
    expect(fatalMessage(missing).exitCode).toBe(66);
    expect(fatalMessage(Object.assign(new Error('x'), { code: 'PGLITE_DAMAGED' })).exitCode).toBe(65);
    expect(fatalMessage(Object.assign(new Error('x'), { code: 'PGLITE_FOREIGN' })).exitCode).toBe(65);
    expect(fatalMessage(Object.assign(new Error('x'), { code: 'EACCES', port: 80 })).exitCode).toBe(77);
    expect(fatalMessage(new MigrationChangedError('001_create_main_table.sql')).exitCode).toBe(1);
    expect(fatalMessage(missing).text).toBe('database "tasks" does not exist on the configured server: create it (`createdb <name>`) or point DATABASE_URL at one that exists');
    expect(fatalMessage(new MigrationChangedError('001_create_main_table.sql')).text).toMatch(/^start-up migrations failed: migration 001_create_main_table\.sql was changed after it was applied/);
  });

  it('anything unforeseen: a line, exit 1, and marked for the log with its stack', () => {
    expect(fatalMessage(new TypeError('x is not a function'))).toEqual({ text: 'cannot start: x is not a function', exitCode: 1, explained: false });
  });

  // Piped, the same facts as one JSON log line; a driver's message may carry the URL it was given.
  it('as a log line: one JSON line in the log shape, the block on one line, no password from the environment', () => {
    const env = { DATABASE_URL: 'postgres://u:s3cr%40t@db/x?sslmode=disable', DB_PASSWORD: 'other-secret' };
    const config = new ConfigError('FEATURE_EDIT_TASK must be one of …\n  PORT must be an integer');
    const line = fatalLogLine(config, fatalMessage(config), env);
    expect(line.endsWith('\n') && line.indexOf('\n') === line.length - 1).toBe(true);
    expect(JSON.parse(line)).toEqual({ level: 'fatal', time: expect.any(String), code: 'CONFIG_INVALID', exitCode: 78, msg: 'Invalid configuration: FEATURE_EDIT_TASK must be one of …; PORT must be an integer' });

    const leaky = new Error('connect to postgres://u:s3cr@t@db/x failed (password other-secret)');
    const parsed = JSON.parse(fatalLogLine(leaky, fatalMessage(leaky), env)) as { msg: string; err: { message: string; stack: string } };
    expect(parsed).toMatchObject({ level: 'fatal', exitCode: 1, msg: 'cannot start: connect to postgres://u:***@db/x failed (password ***)' });
    expect(parsed.err.stack).toContain('connect to postgres://u:***@db/x');
    expect(JSON.stringify(parsed)).not.toMatch(/s3cr|other-secret/);
  });
});
