import { describe, expect, it } from 'vitest';
import { createLogger, errorFields } from './logger';

// One error shape in every log line (type, code, message; the stack at error and fatal only) and
// nothing else from the error: a driver's error can carry its connection parameters.
function capture(level = 'debug') {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger(level, { write: (line) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

class DriverError extends Error {
  override name = 'DriverError';
  code = '28P01';
  // What node-postgres and neon errors can hold: never to be logged.
  client = { connectionParameters: { password: 'hunter2', host: 'db.internal' } };
  config = { connectionString: 'postgres://app:hunter2@db.internal/tasks' };
}

describe('the err serializer', () => {
  it('writes type, code and message below error level, without the stack or any other property', () => {
    const { log, lines } = capture();
    log.warn({ err: new DriverError('password authentication failed for user "app"') }, 'cannot connect');
    expect(lines[0]!.err).toEqual({ type: 'DriverError', code: '28P01', message: 'password authentication failed for user "app"' });
    expect(JSON.stringify(lines)).not.toContain('hunter2');
  });

  it('adds the stack at error and fatal', () => {
    const { log, lines } = capture();
    const err = new DriverError('boom');
    log.error({ err }, 'unhandled error');
    log.fatal({ err }, 'cannot start');
    for (const line of lines) {
      expect(line.err).toMatchObject({ type: 'DriverError', code: '28P01', message: 'boom', stack: err.stack });
      expect(JSON.stringify(line)).not.toContain('hunter2');
    }
  });

  it('takes what is not an Error (a thrown string, a plain object with the shape)', () => {
    expect(errorFields('just text')).toEqual({ message: 'just text' });
    expect(errorFields({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' }, true)).toEqual({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' });
    expect(errorFields(new Error('plain'))).toEqual({ message: 'plain' });
  });
});
