// The app's login role, made sure of by `migrate` with APP_CREDENTIALS_DIR and by a restore.
import type { Db } from '../db';
import { baseRole, grantRoleSql, loginRoleSql, quoteIdent } from '../db/postgres-roles';

/**
 * Makes sure the app's login role exists with DML rights only; returns what it did, one line each.
 * An existing role keeps its password: rotation owns it. With alternating users the app role may
 * currently be `<base>_clone`; privileges always go to the base role, which the clone is a member
 * of. A new role's password is sent as its SCRAM verifier (postgres-roles.ts), never in plain text.
 */
export async function ensureAppRole(db: Db, creds: { username: string; password: string }): Promise<string[]> {
  const done: string[] = [];
  const base = baseRole(creds.username);
  const exists = async (role: string) =>
    (await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).length > 0;

  if (!(await exists(base))) {
    await db.query(base === creds.username ? loginRoleSql('CREATE', base, creds.password) : `CREATE ROLE ${quoteIdent(base)} NOLOGIN`);
    done.push(`created role ${base}`);
  }
  if (base !== creds.username && !(await exists(creds.username))) {
    await db.query(loginRoleSql('CREATE', creds.username, creds.password));
    await db.query(grantRoleSql(base, creds.username));
    done.push(`created role ${creds.username} (member of ${base})`);
  }
  const role = quoteIdent(base);
  await db.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
  await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
  await db.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
  done.push(`granted DML on schema public to ${base}`);
  return done;
}
