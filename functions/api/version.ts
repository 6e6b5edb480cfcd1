import { readFileSync } from 'node:fs';

/** Set by the production build (scripts/build-functions.ts) to package.json's version. */
declare const __APP_VERSION__: string | undefined;

let read: string | undefined;

/**
 * The product's version, from the one place it is written, package.json: in the bundle (and so
 * the image) as the build read it, otherwise the file beside the sources as it is at run time, so
 * `npm start`, `node --import tsx scripts/start.ts`, `npm run dev` and the bundle report the same
 * version whether or not npm started them. APP_VERSION overrides it (config.ts, runtime-config.ts).
 */
export function packageVersion(): string {
  if (typeof __APP_VERSION__ === 'string') return __APP_VERSION__;
  try {
    return (read ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version);
  } catch {
    return 'unknown';
  }
}
