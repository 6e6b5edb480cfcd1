import pino from 'pino';

export type Logger = pino.Logger;

/** JSON lines on stdout. Credentials are redacted wherever they might be attached. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ['password', '*.password', 'connectionString', '*.connectionString', 'token', '*.token'],
      censor: '[redacted]',
    },
  });
}
