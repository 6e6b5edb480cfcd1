import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';

/**
 * The internal token nginx sends and the API checks (`tasks/<env>/internal-token`): `{"token": "…"}`,
 * letters and digits only (it travels in an HTTP header), at least 32 of them. Documented in
 * secrets/aws/internal-token.schema.json; keep the two in step.
 */
export const TOKEN_PATTERN = /^[A-Za-z0-9]{32,}$/;

export const tokenSecretSchema = z.strictObject({ token: z.string().regex(TOKEN_PATTERN, 'must be at least 32 letters and digits') });

export type TokenSecret = z.output<typeof tokenSecretSchema>;

/** Which rotation a secret gets, from the shape of its value: `{"token"}` or the RDS-style database JSON. */
export type SecretKind = 'database' | 'token';

export function secretKind(secretString: string | undefined, label: string): SecretKind {
  let json: unknown;
  try {
    json = JSON.parse(secretString ?? '');
  } catch {
    throw new Error(`${label} is not valid JSON`);
  }
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
    if ('engine' in json) return 'database';
    if ('token' in json) return 'token';
  }
  throw new Error(`${label} is neither a database secret (engine, username, password, …) nor an internal token ({"token"})`);
}

/** Parses a SecretString; errors name the secret and the problem, never the value. */
export function parseTokenSecret(secretString: string | undefined, label: string): TokenSecret {
  let json: unknown;
  try {
    json = JSON.parse(secretString ?? '');
  } catch {
    throw new Error(`${label} is not valid JSON`);
  }
  const result = tokenSecretSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${label} is not a valid internal token secret: ${problems.join('; ')}`);
  }
  return result.data;
}

type Log = (message: string, fields?: Record<string, unknown>) => void;

const isNotFound = (error: unknown) => (error as { name?: string }).name === 'ResourceNotFoundException';

/**
 * createSecret, setSecret and testSecret for the internal token (finishSecret is the same stage
 * move as for the database). Nothing outside Secrets Manager holds the token: the pods read it from
 * their Secret (ESO reads AWSCURRENT as `token`, AWSPREVIOUS as `previous`), so setSecret has
 * nothing to apply.
 */
export function tokenRotationSteps(options: { client: SecretsManagerClient; log: Log; tokenLength?: number }) {
  const { client, log } = options;
  const get = async (secretId: string, stage: string, versionId?: string) => {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage, VersionId: versionId }));
    return parseTokenSecret(out.SecretString, `${out.Name ?? secretId} (${stage})`);
  };
  return {
    /** Puts a new AWSPENDING version under `token` with a fresh random token (letters and digits). */
    async createSecret(secretId: string, token: string): Promise<void> {
      await get(secretId, 'AWSCURRENT');
      try {
        await get(secretId, 'AWSPENDING', token);
        log('createSecret: pending version already exists', { secretId, versionId: token });
        return;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      const { RandomPassword } = await client.send(
        new GetRandomPasswordCommand({ PasswordLength: Math.max(32, options.tokenLength ?? 32), ExcludePunctuation: true, IncludeSpace: false }),
      );
      if (!RandomPassword) throw new Error('GetRandomPassword returned no password');
      await client.send(
        new PutSecretValueCommand({ SecretId: secretId, ClientRequestToken: token, SecretString: JSON.stringify({ token: RandomPassword }), VersionStages: ['AWSPENDING'] }),
      );
      log('createSecret: put pending token', { secretId, versionId: token });
    },

    async setSecret(secretId: string, token: string): Promise<void> {
      log('setSecret: nothing to set, consumers read the token from their Secret', { secretId, versionId: token });
    },

    /** The pending token has the shape nginx and the API accept, and differs from the current one. */
    async testSecret(secretId: string, token: string): Promise<void> {
      const pending = await get(secretId, 'AWSPENDING', token);
      const current = await get(secretId, 'AWSCURRENT');
      if (pending.token === current.token) throw new Error('testSecret: the pending token equals the current one');
      log('testSecret: pending token has the right shape', { secretId, versionId: token });
    },
  };
}

/**
 * Makes sure the secret has an AWSPREVIOUS version, by putting the current value again as a new
 * AWSCURRENT version when it has none (a secret that was never rotated). ESO reads AWSPREVIOUS as
 * the `previous` key and, with deletionPolicy Retain, refuses to sync while that stage is missing.
 * The token does not change, so this is safe on a live environment. Returns whether it put a version.
 */
export async function ensurePreviousVersion(client: SecretsManagerClient, secretId: string): Promise<boolean> {
  const described = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  if (Object.values(described.VersionIdsToStages ?? {}).some((stages) => stages.includes('AWSPREVIOUS'))) return false;
  const current = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }));
  await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: current.SecretString, VersionStages: ['AWSCURRENT'] }));
  return true;
}
