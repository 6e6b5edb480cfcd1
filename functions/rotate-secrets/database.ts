import pg from 'pg';
import { AUTH_FAILED, grantRoleSql, loginRoleSql } from '../api/db/postgres-roles';
import type { DatabaseSecret } from './secret';

export interface ConnectOptions {
  connectTimeoutMs?: number;
  /**
   * Where to connect instead of the secret's host and port, when the rotation runs outside the
   * cluster network (the secret holds the in-cluster Service name the API uses). Only the network
   * address changes: every check still compares the hosts written in the secrets.
   */
  connectTo?: { host: string; port: number };
}

/** Parses `host:port` (as in DB_CONNECT_TO or --connect). */
export function parseConnectTo(value: string | undefined): ConnectOptions['connectTo'] {
  if (!value) return undefined;
  const match = /^([^:\s]+):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new Error(`expected host:port, got "${value}"`);
  return { host: match[1]!, port };
}

function clientFor(secret: DatabaseSecret, options: ConnectOptions): pg.Client {
  return new pg.Client({
    host: options.connectTo?.host ?? secret.host,
    port: options.connectTo?.port ?? secret.port,
    database: secret.dbname,
    user: secret.username,
    password: secret.password,
    // `ssl: true` in the secret means verified TLS; there is no silent fallback to plain text.
    // The certificate is checked against the secret's host, also when connecting through connectTo.
    ssl: secret.ssl ? { rejectUnauthorized: true, servername: secret.host } : false,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    statement_timeout: 10_000,
    application_name: 'rotate-secrets',
  });
}

function describeTarget(secret: DatabaseSecret, options: ConnectOptions): string {
  const via = options.connectTo ? ` via ${options.connectTo.host}:${options.connectTo.port}` : '';
  return `${secret.username}@${secret.host}:${secret.port}/${secret.dbname}${via}`;
}

/** Runs `fn` on a fresh connection as the secret's user; connection errors name the target, never the password. */
export async function withConnection<T>(secret: DatabaseSecret, options: ConnectOptions, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = clientFor(secret, options);
  client.on('error', () => {}); // a server-side disconnect after we are done must not crash the process
  try {
    await client.connect();
  } catch (error) {
    const e = error as { code?: string; message?: string };
    throw Object.assign(new Error(`cannot connect as ${describeTarget(secret, options)}: ${e.message ?? e.code ?? 'unknown error'}`), { code: e.code });
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** True when the credentials log in, false when PostgreSQL rejects them; other failures throw. */
export async function canLogIn(secret: DatabaseSecret, options: ConnectOptions = {}): Promise<boolean> {
  try {
    await withConnection(secret, options, (c) => c.query('SELECT 1'));
    return true;
  } catch (error) {
    if (AUTH_FAILED.has((error as { code?: string }).code ?? '')) return false;
    throw error;
  }
}

/**
 * As the master user: give `pending.username` the pending password, creating the role (as a member of
 * `memberOf`, so it inherits exactly the app's grants) when it does not exist yet. One transaction, so a
 * re-run after a failure starts from a clean state.
 */
export async function applyPendingCredentials(
  master: DatabaseSecret,
  pending: DatabaseSecret,
  memberOf: string,
  options: ConnectOptions = {},
): Promise<'created' | 'updated'> {
  return withConnection(master, options, async (c) => {
    await c.query('BEGIN');
    try {
      const role = await c.query<{ rolsuper: boolean; rolcreaterole: boolean }>(
        'SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = $1',
        [pending.username],
      );
      let outcome: 'created' | 'updated';
      if (role.rowCount === 0) {
        await c.query(loginRoleSql('CREATE', pending.username, pending.password));
        await c.query(grantRoleSql(memberOf, pending.username));
        outcome = 'created';
      } else {
        // Never let an app secret take over an administrative role.
        if (role.rows[0]!.rolsuper || role.rows[0]!.rolcreaterole) {
          throw new Error(`refusing to set a password for ${pending.username}: it is a superuser or can create roles`);
        }
        await c.query(loginRoleSql('ALTER', pending.username, pending.password));
        outcome = 'updated';
      }
      await c.query('COMMIT');
      return outcome;
    } catch (error) {
      await c.query('ROLLBACK').catch(() => {});
      throw error;
    }
  });
}
