// PostgreSQL login roles, as both the migrations (migrations/roles.ts: the app role exists) and the
// rotation function (functions/rotate-secrets: alternating users) handle them. One module so the
// two agree on the alternate's name, on what a refused login looks like and on the SQL that sets
// a password. A leaf: node:crypto only, so the rotation bundle takes nothing else from the API.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * SQLSTATEs PostgreSQL answers a login with when the user or password is wrong: 28P01
 * invalid_password, 28000 invalid_authorization_specification (no such role, or pg_hba refuses it)
 * (PostgreSQL docs, Appendix A "Error Codes").
 */
export const AUTH_FAILED: ReadonlySet<string> = new Set(['28P01', '28000']);

/** PostgreSQL truncates identifiers at 63 bytes (NAMEDATALEN - 1), so longer role names are refused. */
export const ROLE_NAME_MAX = 63;

/** What the app's secrets hold as a role name: lower case, so it needs no quoting anywhere it is written. */
export const ROLE_NAME_PATTERN = /^[a-z_][a-z0-9_]*$/;

/** The alternate user's suffix; a base name may be at most ROLE_NAME_MAX minus its length. */
export const CLONE_SUFFIX = '_clone';

/**
 * Alternating users (AWS's rotation strategy): `tasks_app` ⇄ `tasks_app_clone`. Throws when the
 * alternate would not be a valid role name (empty, or over 63 characters).
 */
export function alternateUsername(username: string): string {
  const alternate = username.endsWith(CLONE_SUFFIX) ? username.slice(0, -CLONE_SUFFIX.length) : `${username}${CLONE_SUFFIX}`;
  if (alternate.length === 0 || alternate.length > ROLE_NAME_MAX) {
    throw new Error(`user ${username} has no valid alternate (PostgreSQL role names are 1 to ${ROLE_NAME_MAX} characters)`);
  }
  return alternate;
}

/** The role that holds the app's grants: `tasks_app` for both `tasks_app` and `tasks_app_clone` (a member of it). */
export function baseRole(username: string): string {
  return username.endsWith(CLONE_SUFFIX) && username.length > CLONE_SUFFIX.length ? username.slice(0, -CLONE_SUFFIX.length) : username;
}

/** A quoted identifier (PostgreSQL docs 4.1.1: double quotes, an inner one doubled). */
export const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802 section 3, RFC 7677; the
 * format of pg_authid.rolpassword, as `\password` computes it). Sending the verifier instead of the
 * password keeps the plain password out of server logs and statement statistics. Limited to
 * printable ASCII, where SASLprep (RFC 4013) changes nothing.
 */
export function scramSha256Verifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  if (!/^[\x20-\x7e]+$/.test(password)) {
    throw new Error('the pending password must be printable ASCII (as GetRandomPassword generates)');
  }
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * `CREATE ROLE` or `ALTER ROLE` giving `role` LOGIN with `password`, sent as its SCRAM verifier:
 * PostgreSQL stores a verifier as given (docs: CREATE ROLE, "PASSWORD"), so the plain password never
 * reaches the server. The verifier is base64, `$` and `:` only, so quoting it cannot fail.
 */
export function loginRoleSql(action: 'CREATE' | 'ALTER', role: string, password: string): string {
  return `${action} ROLE ${quoteIdent(role)} WITH LOGIN PASSWORD '${scramSha256Verifier(password)}'`;
}

/** `GRANT role TO member`: the member inherits exactly the role's privileges. */
export const grantRoleSql = (role: string, member: string) => `GRANT ${quoteIdent(role)} TO ${quoteIdent(member)}`;
