// npm run reset: deletes the local PGlite data (PGLITE_DIR, default .data/pglite) so the next
// `npm start` or `npm run dev` begins with an empty database. Asks first on a terminal; `--yes`
// for scripts (without a terminal and without --yes it deletes nothing and exits 2). Refuses a
// directory another live process holds, and anything that is not a PGlite data directory (a file,
// a PostgreSQL server's data directory: db/pglite-directory.ts).
import { existsSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { assertUnlocked, DirectoryLockedError } from '../functions/api/db/directory-lock';
import { notPgliteReason } from '../functions/api/db/pglite-directory';
import { confirm, exitCode, parseCommandLine, UsageError } from './ops/cli';

const HELP = `usage: npm run reset [-- --yes]

Deletes the local PGlite data directory (PGLITE_DIR, default .data/pglite) and its lock file, so the
next npm start creates a new, empty database. Asks first; --yes deletes without asking (scripts).
A PostgreSQL or Neon database is never touched.

Exit codes: 0 deleted (or nothing to delete), 1 refused (in use, or not a PGlite directory),
2 usage (or no terminal to ask on and no --yes).
`;

/** An exit code, or what to delete once the person has said yes. */
function plan(): number | { targets: string[]; configured: string; yes: boolean } {
  let yes: boolean | undefined;
  try {
    const { values } = parseCommandLine(process.argv.slice(2), { yes: { type: 'boolean', short: 'y' } });
    if (values.help) {
      process.stdout.write(HELP);
      return exitCode.ok;
    }
    yes = values.yes;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`reset: ${err.message}\nRun with --help for usage.\n`);
    return exitCode.usage;
  }

  const configured = process.env.PGLITE_DIR?.trim() || '.data/pglite';
  if (configured.startsWith('memory://')) {
    console.log(`reset: PGLITE_DIR is ${configured}: an in-memory database, nothing to delete`);
    return exitCode.ok;
  }
  const dir = resolve(configured);
  const creating = join(dirname(dir), `.${basename(dir)}.creating`);
  const targets = [dir, `${dir}.lock`, creating].filter((p) => existsSync(p));
  if (targets.length === 0) {
    console.log(`reset: nothing to delete (${configured} does not exist)`);
    return exitCode.ok;
  }
  try {
    assertUnlocked(dir);
  } catch (err) {
    if (!(err instanceof DirectoryLockedError)) throw err;
    process.stderr.write(`reset: ${configured} is in use by process ${err.pid}: stop it (Ctrl+C in its terminal), then run npm run reset again\n`);
    return exitCode.problems;
  }
  const notPglite = notPgliteReason(dir);
  if (notPglite) {
    process.stderr.write(`reset: ${configured} is not a PGlite data directory (${notPglite}): not deleting it; check PGLITE_DIR\n`);
    return exitCode.problems;
  }
  return { targets, configured, yes: Boolean(yes) };
}

function remove(targets: string[], configured: string): number {
  for (const p of targets) rmSync(p, { recursive: true, force: true });
  console.log(`reset: deleted ${targets.map((p) => (p === resolve(configured) ? configured : p)).join(', ')}; the next npm start creates a new, empty database`);
  return exitCode.ok;
}

const next = plan();
if (typeof next === 'number') process.exit(next);
if (next.yes) process.exit(remove(next.targets, next.configured));
if (!process.stdin.isTTY) {
  process.stderr.write('reset: not a terminal, so nothing was deleted: run npm run reset -- --yes to delete without asking\n');
  process.exit(exitCode.usage);
}
if (await confirm(`Delete ${next.configured} and every task in it?`)) process.exit(remove(next.targets, next.configured));
console.log('reset: nothing deleted');
process.exit(exitCode.ok);
