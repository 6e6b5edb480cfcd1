import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './nginx';

export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** initdb and pg_ctl refuse to run as root; the test setup (global-setup.ts) creates this system user for them. */
export const CLUSTER_USER = process.env.PG_CLUSTER_USER ?? 'tasks-pg';

export interface ScramCluster {
  host: string;
  port: number;
  /** Superuser name and its random password (SCRAM-SHA-256). */
  user: string;
  password: string;
  /** The directory of its unix socket (`.s.PGSQL.<port>`): local connections need the same SCRAM password. */
  socketDir: string;
  /** postgres://user:password@127.0.0.1:port/<database> */
  url(database?: string): string;
  /** `pg_ctl stop -m <mode>`, keeping the data: fast = clients disconnected, immediate = like a crash. */
  halt(mode: 'fast' | 'immediate'): Promise<void>;
  /** Starts a halted server again on the same port; resolves once it accepts connections. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function run(command: string, args: string[], asClusterUser: boolean): void {
  const [cmd, argv] = asClusterUser ? ['runuser', ['-u', CLUSTER_USER, '--', command, ...args]] : [command, args];
  const result = spawnSync(cmd, argv, { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${command} failed (${result.status}): ${result.stderr || result.stdout || result.error?.message}`);
  }
}

/** Like run(), without blocking the event loop (load generators in the same process keep running). */
function runAsync(command: string, args: string[], asClusterUser: boolean): Promise<void> {
  const [cmd, argv] = asClusterUser ? ['runuser', ['-u', CLUSTER_USER, '--', command, ...args]] : [command, args];
  return new Promise((resolve, reject) =>
    execFile(cmd, argv, { encoding: 'utf8' }, (err, stdout, stderr) =>
      err ? reject(new Error(`${command} failed: ${stderr || stdout || err.message}`)) : resolve(),
    ),
  );
}

/**
 * A throwaway PostgreSQL 15 cluster that only accepts SCRAM-SHA-256 passwords over TCP,
 * so tests can see a wrong password fail (the machine's server on 5432 trusts everyone).
 */
export async function startScramCluster(): Promise<ScramCluster> {
  const asRoot = process.getuid?.() === 0;
  // Under a temp folder the cluster user can reach even when TMPDIR is private.
  const dir = tempDir('tasks-scram-');
  chmodSync(dir, 0o700);
  const data = join(dir, 'data');
  const user = 'cluster_admin';
  const password = randomBytes(18).toString('base64url');
  const passwordFile = join(dir, 'pwfile');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (asRoot) {
    const uid = Number(spawnSync('id', ['-u', CLUSTER_USER], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', CLUSTER_USER], { encoding: 'utf8' }).stdout.trim());
    if (!Number.isInteger(uid) || uid <= 0) {
      throw new Error(`user ${CLUSTER_USER} is missing: useradd --system --no-create-home --shell /usr/sbin/nologin ${CLUSTER_USER}`);
    }
    chmodSync(dir, 0o700);
    chownSync(dir, uid, gid);
    chownSync(passwordFile, uid, gid);
  }

  try {
    run(
      join(PG_BIN, 'initdb'),
      ['-D', data, '-U', user, `--pwfile=${passwordFile}`, '--auth-local=scram-sha-256', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync'],
      asRoot,
    );
  } finally {
    rmSync(passwordFile, { force: true });
  }
  // Only TCP on loopback, only SCRAM: nothing trusts, so a wrong password really fails.
  writeFileSync(
    join(data, 'pg_hba.conf'),
    ['local all all scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256', ''].join('\n'),
  );

  const port = await freePort();
  const options = [
    `-p ${port}`,
    '-h 127.0.0.1',
    `-k ${dir}`,
    '-c password_encryption=scram-sha-256',
    '-c fsync=off',
    '-c max_connections=200',
  ].join(' ');
  run(join(PG_BIN, 'pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start'], asRoot);

  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    socketDir: dir,
    url(database = 'postgres') {
      return `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
    },
    halt(mode) {
      return runAsync(join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', mode, '-w', 'stop'], asRoot);
    },
    resume() {
      return runAsync(join(PG_BIN, 'pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start'], asRoot);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        run(join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], asRoot);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
