import { writeSync } from 'node:fs';
import pino from 'pino';
import { createLogDestination, type LogDestination } from './log-destination';

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

/** Log lines this process has dropped so far (0 while nothing is logged). */
export const droppedLogLines = () => stdout?.dropped ?? 0;

/**
 * JSON lines on stdout through {@link stdoutLog}, or `destination`. Credentials are redacted
 * wherever they might be attached.
 */
export function createLogger(level: string, destination: { write(line: string): void } = stdoutLog()): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['password', '*.password', 'connectionString', '*.connectionString', 'token', '*.token'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
