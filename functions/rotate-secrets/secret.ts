import { z } from 'zod';
import { ROLE_NAME_MAX, ROLE_NAME_PATTERN } from '../api/db/postgres-roles';

/**
 * The JSON stored in the `tasks/<env>/db-app` and `tasks/<env>/db-admin` secrets (RDS style, the
 * shape AWS's rotation templates use). Documented in secrets/aws/README.md ("Secret formats").
 */
const port = z
  .union([z.number(), z.string().regex(/^\d+$/, 'must be a number').transform(Number)])
  .pipe(z.number().int().min(1).max(65535));

const ssl = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

// PostgreSQL truncates identifiers at 63 bytes; a longer name would silently become another role.
const roleName = z.string().min(1).max(ROLE_NAME_MAX).regex(ROLE_NAME_PATTERN, 'must be a lower-case PostgreSQL role name');

export const databaseSecretSchema = z.looseObject({
  engine: z.literal('postgres'),
  host: z.string().min(1),
  port: port.default(5432),
  dbname: z.string().min(1).default('postgres'),
  username: roleName,
  password: z.string().min(1),
  masterarn: z.string().startsWith('arn:').optional(),
  ssl: ssl.optional(),
});

export type DatabaseSecret = z.output<typeof databaseSecretSchema>;

/**
 * Parses a SecretString. Errors name the secret and the offending keys but never echo the value:
 * JSON.parse messages quote the input, and the input holds a password.
 */
export function parseDatabaseSecret(secretString: string | undefined, label: string): DatabaseSecret {
  if (secretString === undefined) throw new Error(`${label} has no SecretString`);
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    throw new Error(`${label} is not valid JSON`);
  }
  const result = databaseSecretSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${label} is not a valid database secret: ${problems.join('; ')}`);
  }
  return result.data;
}

/**
 * The same PostgreSQL server: host (case-insensitive, as DNS names are) and port. The database name
 * is compared apart where it matters (the master secret names none of its own).
 */
export function sameServer(a: DatabaseSecret, b: DatabaseSecret): boolean {
  return a.host.toLowerCase() === b.host.toLowerCase() && a.port === b.port;
}
