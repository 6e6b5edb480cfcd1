import { writeSync } from 'node:fs';
import pino from 'pino';
import { createLogDestination, type LogDestination } from './log-destination.ts';

export type Logger = pino.Logger;

let stdout: LogDestination | undefined;

/**
 * The process's one way to stdout (log-destination.ts: queued, in order, never blocking), created
 * on first use. On exit it writes what stdout takes at that moment and drops the rest; if any line
 * was dropped in the process's life, one line on stderr says how many (one non-blocking attempt:
 * stderr usually goes to the same collector, so it may be stalled too; the running count is also
 * the metric `tasks_api_log_lines_dropped_total`).
 */
export function stdoutLog(): LogDestination {
  if (stdout) return stdout;
  const dest = (stdout = createLogDestination({ fd: 1 }));
  void process.stderr.fd; // a pipe on fd 2 becomes non-blocking too: the report below must not hang the exit
  process.once('exit', () => {
    dest.flushNow();
    if (dest.dropped === 0) return;
    const line = JSON.stringify({ level: 'warn', time: new Date().toISOString(), dropped: dest.dropped, msg: `${dest.dropped} log lines dropped: stdout was not being read` });
    try {
      writeSync(2, `${line}\n`);
    } catch {
      // stderr is stalled too: the count was on /metrics while the process ran
    }
  });
  return dest;
}

/**
 * The one rule for whom a stream's lines are for: a person when it is a terminal (and not
 * NODE_ENV=production), a program otherwise (a pipe, a file, a log collector). Local hosts print
 * readable log lines on stdout by it (local-log.ts), and every host prints its fatal line on
 * stderr by it (preflight.ts): plain text for a person, a JSON log line otherwise.
 */
export function readByPerson(stream: { isTTY?: boolean }, env: Record<string, string | undefined> = process.env): boolean {
  return Boolean(stream.isTTY) && env.NODE_ENV !== 'production';
}

/** Log lines this process has dropped so far (0 while nothing is logged). */
export const droppedLogLines = () => stdout?.dropped ?? 0;

/** What a log line says about an error: `{ type?, code?, message, stack? }`. */
export interface ErrorFields {
  /** The error's class when it is not a plain `Error` (`DirectoryLockedError`, `MigrationChangedError`…). */
  type?: string;
  /** PostgreSQL's SQLSTATE, Node's errno name, or the project's own code (`PGLITE_LOCKED`…). */
  code?: string;
  message: string;
  stack?: string;
}

/**
 * The one shape of `err` in a log line: the class, code, message and (when `withStack`) stack,
 * nothing else. Other properties are never copied: a driver's error can carry its connection
 * parameters (node-postgres' `client`, a neon error's `config`), and those hold the password.
 * A plain object that already has this shape comes back unchanged (without a stack).
 */
export function errorFields(err: unknown, withStack = false): ErrorFields {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; message?: unknown; stack?: unknown };
  const fields: ErrorFields = { message: typeof e.message === 'string' ? e.message : String(err) };
  if (typeof e.name === 'string' && e.name !== 'Error' && err instanceof Error) fields.type = e.name;
  else if (typeof (e as { type?: unknown }).type === 'string') fields.type = (e as { type: string }).type;
  if (typeof e.code === 'string') fields.code = e.code;
  if (withStack && typeof e.stack === 'string') fields.stack = e.stack;
  return fields;
}

/** pino's level number for `error`: lines at this level and above carry the error's stack. */
const ERROR_LEVEL = 50;

/**
 * JSON lines on stdout through {@link stdoutLog}, or `destination`. Credentials are redacted
 * wherever they might be attached. An error goes in as `log.warn({ err }, '…')`: the `err`
 * serializer writes {@link errorFields}, with the stack only at error and fatal.
 */
export function createLogger(level: string, destination: { write(line: string): void } = stdoutLog()): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: (err: unknown) => errorFields(err, true) },
      hooks: {
        // The serializer cannot see the line's level: below error, strip the stack here first.
        logMethod(args, method, lineLevel) {
          const first = args[0] as unknown;
          if (lineLevel < ERROR_LEVEL && first && typeof first === 'object' && 'err' in first) {
            args[0] = { ...first, err: errorFields((first as { err: unknown }).err) } as never;
          }
          return method.apply(this, args);
        },
      },
      redact: {
        paths: ['password', '*.password', 'connectionString', '*.connectionString', 'token', '*.token'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
