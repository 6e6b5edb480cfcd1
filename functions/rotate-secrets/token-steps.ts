// The internal token's steps: a new random token; nothing to set anywhere but Secrets Manager.
import { DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { jsonLog, pendingVersionExists, putPendingVersion, randomPassword, readVersion, type KindSteps, type RotationOptions } from './protocol';

/**
 * The internal token nginx sends and the API checks (`tasks/<env>/internal-token`): `{"token": "…"}`,
 * letters and digits only (it travels in an HTTP header), at least 32 of them. Documented in
 * secrets/aws/internal-token.schema.json; keep the two in step.
 */
export const TOKEN_PATTERN = /^[A-Za-z0-9]{32,}$/;

export const tokenSecretSchema = z.strictObject({ token: z.string().regex(TOKEN_PATTERN, 'must be at least 32 letters and digits') });

export type TokenSecret = z.output<typeof tokenSecretSchema>;

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

/**
 * createSecret, setSecret and testSecret for the internal token (finishSecret is the protocol's
 * stage move). Nothing outside Secrets Manager holds the token: the pods read it from their Secret
 * (ESO reads AWSCURRENT as `token`, AWSPREVIOUS as `previous`), so setSecret has nothing to apply.
 */
export function tokenSteps(options: RotationOptions): KindSteps {
  const { client } = options;
  const log = options.log ?? jsonLog;
  const get = async (secretId: string, stage: string, versionId?: string) => {
    const { value, label } = await readVersion(client, secretId, stage, versionId);
    return parseTokenSecret(value, label);
  };
  return {
    /** Puts a new AWSPENDING version under `token` with a fresh random token (letters and digits). */
    async createSecret(secretId, token) {
      await get(secretId, 'AWSCURRENT');
      if (await pendingVersionExists(() => get(secretId, 'AWSPENDING', token), log, secretId, token)) return;
      const value = await randomPassword(client, { PasswordLength: Math.max(32, options.passwordLength ?? 32), ExcludePunctuation: true, IncludeSpace: false });
      await putPendingVersion(client, secretId, token, { token: value });
      log('createSecret: put pending token', { secretId, versionId: token });
    },

    async setSecret(secretId, token) {
      log('setSecret: nothing to set, consumers read the token from their Secret', { secretId, versionId: token });
    },

    /** The pending token has the shape nginx and the API accept, and differs from the current one. */
    async testSecret(secretId, token) {
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
