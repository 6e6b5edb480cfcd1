import { createRequire } from 'node:module';
import type pinoPretty from 'pino-pretty';
import { readByPerson } from './logger';

/**
 * Where `npm start` and `npm run dev` send log lines: readable lines (pino's own `pino-pretty`,
 * a dev dependency) when a person reads them at a terminal, JSON otherwise. JSON stays the format
 * when stdout is a pipe or a file (a log collector, a test) and always with NODE_ENV=production
 * (the one rule: logger.ts's readByPerson);
 * the production bundle (server.ts → host.ts) never imports this module, so it carries none of it.
 * `LOG_LEVEL` applies to both the same way (it is the logger's level, before any formatting).
 *
 * @returns a pino destination, or undefined for the JSON default (logger.ts's stdout queue)
 */
export function localLogDestination(
  env: Record<string, string | undefined> = process.env,
  stdout: { isTTY?: boolean } = process.stdout,
): { write(line: string): void } | undefined {
  if (!readByPerson(stdout, env)) return undefined;
  // Loaded only here: piped, a start does not pay for importing it (about 0.1 s).
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof pinoPretty;
  return pretty({
    colorize: !env.NO_COLOR,
    sync: true, // a terminal is read as it is written; ordering with the banner's console.log matters more
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'reqId',
    singleLine: true,
  });
}
