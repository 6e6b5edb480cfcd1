import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { chromiumPath } from './browser';
import { nginxPath } from './nginx';
import { adminUrl } from './postgres';
import { CLUSTER_USER, PG_BIN } from './scram-cluster';

/**
 * Vitest global setup for the node project: makes `npm test` pass by itself on a fresh machine, as
 * root or as a normal user. It provides what the suites need and says plainly what it cannot:
 * - nginx and Chromium (Debian packages `nginx-light`, `chromium`), installed with apt-get as root or
 *   through `sudo -n`;
 * - the system user the throwaway PostgreSQL clusters run as when the tests run as root (initdb and
 *   pg_ctl refuse root); as a normal user they run as that user;
 * - the machine's PostgreSQL at `TEST_DATABASE_URL` (default in postgres.ts), and its database.
 * Errors stop the run before any test, each naming what to do.
 */
export default async function setup(): Promise<void> {
  const problems: string[] = [];

  const packages: string[] = [];
  if (!nginxPath()) packages.push('nginx-light');
  if (!existsSync(chromiumPath)) packages.push('chromium', 'fonts-dejavu-core');
  if (packages.length > 0) {
    const why = `The web tests need ${packages.join(' and ')}`;
    const installed = asRoot(['apt-get', 'update', '-qq'], why) && asRoot(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', ...packages], why);
    if (!installed) {
      problems.push(
        `${why}, which this user can install neither as root nor with sudo -n: run ` +
          `sudo apt-get install ${packages.join(' ')} (or set CHROMIUM_PATH to a Chromium that is installed).`,
      );
    }
    else if (!nginxPath()) problems.push('apt-get installed nginx-light but nginx is still not on PATH or at /usr/sbin/nginx.');
    else if (!existsSync(chromiumPath)) problems.push(`apt-get installed chromium but ${chromiumPath} is still missing (set CHROMIUM_PATH to where it is).`);
  }

  if (!existsSync(`${PG_BIN}/initdb`)) {
    problems.push(`${PG_BIN}/initdb is missing: the rotation tests start throwaway PostgreSQL 15 clusters (apt-get install postgresql-15, or set PG_BIN).`);
  }
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', CLUSTER_USER]).status !== 0) {
    const made = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', CLUSTER_USER], { encoding: 'utf8' });
    if (made.status !== 0) problems.push(`Could not create the user ${CLUSTER_USER} that throwaway PostgreSQL clusters run as under root: ${made.stderr.trim()}`);
    else console.log(`test setup: created the system user ${CLUSTER_USER} (throwaway PostgreSQL clusters refuse to run as root)`);
  }

  const database = await ensureDatabase();
  if (database) problems.push(database);

  if (problems.length > 0) throw new Error(`The test suite cannot run on this machine yet:\n- ${problems.join('\n- ')}`);
}

/** Runs a command as root (directly, or through passwordless sudo). False when neither is possible. */
function asRoot(command: string[], why: string): boolean {
  const root = process.getuid?.() === 0;
  if (!root && spawnSync('sudo', ['-n', 'true']).status !== 0) return false;
  const [cmd, ...args] = root ? command : ['sudo', '-n', ...command];
  console.log(`test setup: ${why}: ${command.join(' ')}`);
  const result = spawnSync(cmd!, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return result.status === 0;
}

/** Checks the machine's PostgreSQL answers and creates the database in TEST_DATABASE_URL if missing. */
async function ensureDatabase(): Promise<string | undefined> {
  const url = new URL(adminUrl);
  const name = decodeURIComponent(url.pathname.slice(1)) || 'postgres';
  const shown = `${url.protocol}//${url.username}@${url.host}/${name}`;
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    return (
      `PostgreSQL at ${shown} is not reachable (${(err as Error).message}). Start it ` +
      `(Debian: pg_ctlcluster 15 main start, as .ci/run does) or set TEST_DATABASE_URL to a server with trust auth.`
    );
  }
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    return undefined;
  } catch (err) {
    return `Could not create the test database ${name} on ${shown}: ${(err as Error).message}`;
  } finally {
    await client.end();
  }
}
