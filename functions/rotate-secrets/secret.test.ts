import { describe, expect, it } from 'vitest';
import { parseDatabaseSecret } from './secret';

const valid = {
  engine: 'postgres',
  host: 'database.database.svc.cluster.local',
  port: 5432,
  dbname: 'tasks',
  username: 'tasks_app',
  password: 'not-a-real-password-7f3a',
  masterarn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tasks/dev/db-admin-AbCdEf',
};

describe('parseDatabaseSecret', () => {
  it('accepts the RDS-style shape and keeps unknown keys', () => {
    const parsed = parseDatabaseSecret(JSON.stringify({ ...valid, note: 'kept' }), 'db-app');
    expect(parsed).toMatchObject({ ...valid, note: 'kept' });
  });

  it('defaults port and dbname and accepts a port or ssl flag given as a string', () => {
    const { port: _p, dbname: _d, ...rest } = valid;
    expect(parseDatabaseSecret(JSON.stringify(rest), 'x')).toMatchObject({ port: 5432, dbname: 'postgres' });
    expect(parseDatabaseSecret(JSON.stringify({ ...valid, port: '6543', ssl: 'true' }), 'x')).toMatchObject({ port: 6543, ssl: true });
  });

  it('names the secret and the bad keys without echoing any value', () => {
    const bad = JSON.stringify({ ...valid, engine: 'mysql', username: 'Robert"; DROP', port: 99999 });
    let message = '';
    try {
      parseDatabaseSecret(bad, 'tasks/dev/db-app (AWSPENDING)');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('tasks/dev/db-app (AWSPENDING) is not a valid database secret');
    for (const key of ['engine: ', 'port: ', 'username: ']) expect(message).toContain(key);
    expect(message).not.toContain(valid.password);
    expect(message).not.toContain('Robert');
  });

  it('does not leak the secret through a JSON syntax error', () => {
    const broken = `{"password": "${valid.password}",`;
    expect(() => parseDatabaseSecret(broken, 'db-app')).toThrow(/^db-app is not valid JSON$/);
    expect(() => parseDatabaseSecret(undefined, 'db-app')).toThrow('db-app has no SecretString');
  });
});
