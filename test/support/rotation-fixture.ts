import { CreateSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startScramCluster, type ScramCluster } from './scram-cluster';
import { SecretsManagerDouble } from './secrets-manager-double';

export const ROTATION_FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:rotate-secrets';

export interface DbSecretValue {
  engine: 'postgres';
  host: string;
  port: number;
  dbname: string;
  username: string;
  password: string;
  masterarn?: string;
}

/**
 * What the rotation tests share: a SCRAM-only PostgreSQL cluster with a `tasks` database, and the
 * local Secrets Manager stand-in holding an admin secret for the cluster's superuser.
 */
export interface RotationFixture {
  cluster: ScramCluster;
  sm: SecretsManagerDouble;
  client: SecretsManagerClient;
  adminArn: string;
  /**
   * Creates role `username` with a random password and DML on `tasks`, and its `tasks/<env>/db-app`-style
   * secret. With `host`, both the secret and a master secret of its own name that host instead of the
   * cluster's address (as in-cluster Service names do), so connections need `connectTo`.
   */
  createAppSecret(name: string, username: string, options?: { host?: string }): Promise<{ arn: string; value: DbSecretValue }>;
  /** A superuser query on the `tasks` database. */
  adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  stop(): Promise<void>;
}

export async function startRotationFixture(): Promise<RotationFixture> {
  const cluster = await startScramCluster();
  try {
    return await setUp(cluster);
  } catch (error) {
    await cluster.stop(); // a failed setup must not leave a postgres process behind
    throw error;
  }
}

async function setUp(cluster: ScramCluster): Promise<RotationFixture> {
  const sm = await SecretsManagerDouble.start();
  const client = sm.client();
  const admin = new pg.Pool({ connectionString: cluster.url('postgres'), max: 2 });
  await admin.query('CREATE DATABASE tasks');
  await admin.end();
  const pool = new pg.Pool({ connectionString: cluster.url('tasks'), max: 4 });
  await pool.query('CREATE TABLE tasks (id serial PRIMARY KEY, title text NOT NULL)');

  const base = { engine: 'postgres' as const, host: cluster.host, port: cluster.port, dbname: 'tasks' };
  const created = await client.send(
    new CreateSecretCommand({
      Name: 'tasks/test/db-admin',
      SecretString: JSON.stringify({ ...base, dbname: 'postgres', username: cluster.user, password: cluster.password }),
    }),
  );
  const adminArn = created.ARN!;

  return {
    cluster,
    sm,
    client,
    adminArn,
    async createAppSecret(name, username, options = {}) {
      const password = randomBytes(18).toString('base64url');
      await pool.query(`CREATE ROLE ${username} LOGIN PASSWORD '${password}'`);
      await pool.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON tasks TO ${username}; GRANT USAGE ON SEQUENCE tasks_id_seq TO ${username}`);
      let masterarn = adminArn;
      if (options.host) {
        const admin = { ...base, host: options.host, dbname: 'postgres', username: cluster.user, password: cluster.password };
        masterarn = (await client.send(new CreateSecretCommand({ Name: `${name}-admin`, SecretString: JSON.stringify(admin) }))).ARN!;
      }
      const value: DbSecretValue = { ...base, host: options.host ?? base.host, username, password, masterarn };
      const out = await client.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }));
      return { arn: out.ARN!, value };
    },
    adminQuery: (sql, params) => pool.query(sql, params),
    async stop() {
      client.destroy();
      await sm.close();
      await pool.end();
      await cluster.stop();
    },
  };
}

/** Logs in with `creds` and returns the server's `current_user`, or the SQLSTATE when login fails. */
export async function loginAs(creds: Pick<DbSecretValue, 'host' | 'port' | 'dbname' | 'username' | 'password'>): Promise<string> {
  const c = new pg.Client({ host: creds.host, port: creds.port, database: creds.dbname, user: creds.username, password: creds.password });
  try {
    await c.connect();
    const { rows } = await c.query<{ current_user: string }>('SELECT current_user');
    return rows[0]!.current_user;
  } catch (error) {
    return `failed:${(error as { code?: string }).code}`;
  } finally {
    await c.end().catch(() => {});
  }
}
