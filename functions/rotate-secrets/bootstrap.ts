import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  RotateSecretCommand,
  type DescribeSecretResponse,
  type SecretsManagerClient,
  type Tag,
} from '@aws-sdk/client-secrets-manager';
import { DEFAULT_EXCLUDE_CHARACTERS } from './database-steps';
import { ensurePreviousVersion } from './token-steps';

// An environment's three secrets in Secrets Manager, created once and with rotation turned on, as a
// plan (what exists, what to create, what changes) and its application. Used by
// `npm run secrets:bootstrap`, which derives the input from platform/values*.yaml; the Lambda does not
// need it. Existing secrets are never overwritten.

/** The three secrets: the master (owner) credentials, the app's credentials, the internal token. */
export type SecretKey = 'admin' | 'app' | 'token';
export const SECRET_KEYS: readonly SecretKey[] = ['admin', 'app', 'token'];

/** Both rotate through the same function: it tells the kinds apart by the secret's shape. */
export type RotatedKey = 'app' | 'token';
export const ROTATED_KEYS: readonly RotatedKey[] = ['app', 'token'];

export interface BootstrapInput {
  /** Secret names, e.g. `tasks/dev/db-admin`, `tasks/dev/db-app`, `tasks/dev/internal-token`. */
  names: Record<SecretKey, string>;
  /** The database fields of both database secrets (RDS-style JSON). */
  database: { engine: 'postgres'; host: string; port: number; dbname: string };
  adminUser: string;
  appUser: string;
  kmsKeyId?: string;
  tags: Tag[];
  /** The rotation function; without it rotation is left as it is. */
  rotationLambdaArn?: string;
  /** Days between scheduled rotations (checked against the timing rule by the caller). */
  rotationDays: number;
}

export interface BootstrapPlan {
  /** DescribeSecret of each secret that exists. */
  existing: Record<SecretKey, DescribeSecretResponse | undefined>;
  /** The secrets to create, in the order they are created (the app secret names the admin's ARN). */
  creates: SecretKey[];
  /** The internal token has no AWSPREVIOUS version (ESO reads that stage too), or does not exist yet. */
  tokenNeedsPrevious: boolean;
  /** `rate(<days> days)`. */
  schedule: string;
  /** Per rotated secret: rotation is already on with this function and schedule. */
  rotationUnchanged: Record<RotatedKey, boolean>;
  /** The secrets whose rotation is turned on or changed (only with a rotation function). */
  rotationChanges: RotatedKey[];
  /** Nothing to create, no stage to add, no rotation to change. */
  nothingToDo: boolean;
}

/** DescribeSecret, or undefined when the secret does not exist. */
export async function describeIfExists(client: SecretsManagerClient, secretId: string): Promise<DescribeSecretResponse | undefined> {
  try {
    return await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/** What applyBootstrap would do, from the secrets as they are now. Reads only. */
export async function planBootstrap(client: SecretsManagerClient, input: BootstrapInput): Promise<BootstrapPlan> {
  const existing = {
    admin: await describeIfExists(client, input.names.admin),
    app: await describeIfExists(client, input.names.app),
    token: await describeIfExists(client, input.names.token),
  };
  const schedule = `rate(${input.rotationDays} days)`;
  const unchanged = (key: RotatedKey) =>
    Boolean(existing[key]?.RotationEnabled && existing[key].RotationLambdaARN === input.rotationLambdaArn && existing[key].RotationRules?.ScheduleExpression === schedule);
  const rotationUnchanged = { app: unchanged('app'), token: unchanged('token') };
  const tokenNeedsPrevious = !existing.token || !Object.values(existing.token.VersionIdsToStages ?? {}).some((l) => l.includes('AWSPREVIOUS'));
  const creates = SECRET_KEYS.filter((k) => !existing[k]);
  const rotationChanges = input.rotationLambdaArn ? ROTATED_KEYS.filter((k) => !rotationUnchanged[k]) : [];
  return {
    existing,
    creates,
    tokenNeedsPrevious,
    schedule,
    rotationUnchanged,
    rotationChanges,
    nothingToDo: creates.length === 0 && rotationChanges.length === 0 && !tokenNeedsPrevious,
  };
}

/** One change applyBootstrap made. */
export type BootstrapStep =
  | { step: 'created'; name: string; arn: string }
  | { step: 'previous-added'; name: string }
  | { step: 'rotation-on'; name: string; schedule: string };

/**
 * Carries out `plan`: creates the missing secrets with GetRandomPassword values (32 characters; the
 * token letters and digits only), gives the token an AWSPREVIOUS version when it has none, and turns
 * rotation on where it changes. Reports each change through `report`; never passes a secret value to it.
 */
export async function applyBootstrap(
  client: SecretsManagerClient,
  input: BootstrapInput,
  plan: BootstrapPlan,
  report: (step: BootstrapStep) => void,
): Promise<void> {
  const { names, database } = input;
  const { existing } = plan;
  const password = async (excludePunctuation = false) => {
    const out = await client.send(
      new GetRandomPasswordCommand({ PasswordLength: 32, ExcludeCharacters: DEFAULT_EXCLUDE_CHARACTERS, ExcludePunctuation: excludePunctuation }),
    );
    if (!out.RandomPassword) throw new Error('GetRandomPassword returned no password');
    return out.RandomPassword;
  };
  const create = async (name: string, description: string, value: Record<string, unknown>) => {
    const out = await client.send(
      new CreateSecretCommand({ Name: name, Description: description, KmsKeyId: input.kmsKeyId, SecretString: JSON.stringify(value), Tags: input.tags }),
    );
    report({ step: 'created', name, arn: out.ARN! });
    return out.ARN!;
  };

  const adminArn =
    existing.admin?.ARN ??
    (await create(names.admin, 'PostgreSQL owner/superuser for the tasks database', { ...database, username: input.adminUser, password: await password() }));
  if (!existing.app) {
    await create(names.app, 'Role the tasks API connects as; rotated with alternating users', {
      ...database,
      username: input.appUser,
      password: await password(),
      masterarn: adminArn,
    });
  }
  if (!existing.token) {
    // Letters and digits only: the token travels in an HTTP header.
    await create(names.token, 'Shared token nginx sends and the API checks', { token: await password(true) });
  }
  if (await ensurePreviousVersion(client, names.token)) report({ step: 'previous-added', name: names.token });
  for (const key of plan.rotationChanges) {
    // RotateImmediately=false: Secrets Manager only runs testSecret now, the first rotation follows the schedule.
    await client.send(
      new RotateSecretCommand({ SecretId: names[key], RotationLambdaARN: input.rotationLambdaArn, RotationRules: { ScheduleExpression: plan.schedule }, RotateImmediately: false }),
    );
    report({ step: 'rotation-on', name: names[key], schedule: plan.schedule });
  }
}
