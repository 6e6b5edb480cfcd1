import { readFileSync } from 'node:fs';
import semver from 'semver';

/**
 * `npm start` and `npm run dev` on a Node.js that package.json's `engines` does not list: one plain
 * line saying so, then they go on (npm itself only warns at install time, and not on `npm start`).
 * Undefined when `running` satisfies `required`. Not on the image's path: the bundle and the image
 * ship their own Node.js.
 */
export function engineWarning(running: string, required: string): string | undefined {
  if (semver.satisfies(running, required, { includePrerelease: true })) return undefined;
  const version = running.startsWith('v') ? running : `v${running}`;
  return `warning: Node.js ${version} is not a version this project supports (package.json "engines": ${required}); continuing, but upgrade Node.js if something fails`;
}

const packageJson = new URL('../../package.json', import.meta.url);

/**
 * Writes engineWarning's line for this process to stderr, once per process; returns it. As plain
 * text, or with `json` as a JSON log line (`level` "warn", `time`, `msg`), the form every line
 * takes when output is piped (logger.ts's readByPerson).
 */
export function warnOnUnsupportedNode(running = process.version, json = false): string | undefined {
  if (warned) return undefined;
  warned = true;
  const required = (JSON.parse(readFileSync(packageJson, 'utf8')) as { engines?: { node?: string } }).engines?.node;
  const line = required ? engineWarning(running, required) : undefined;
  if (line) process.stderr.write(`${json ? JSON.stringify({ level: 'warn', time: new Date().toISOString(), msg: line }) : line}\n`);
  return line;
}
let warned = false;
