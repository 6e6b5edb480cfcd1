// The Secrets Manager rotation protocol, once for every kind of secret: the event, the version
// checks before each step, the kind chosen from the secret's value, the shared pieces of a step
// (read a version, put the pending one, a random value) and finishSecret, the same stage move for
// all. The kinds (database-steps.ts, token-steps.ts) only say what their three other steps do.
// The contract: https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html
import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
  type GetRandomPasswordCommandInput,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { ConnectOptions } from './database';

export const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type Step = (typeof STEPS)[number];

/** What Secrets Manager sends the rotation function. */
export interface RotationEvent {
  Step: Step;
  SecretId: string;
  ClientRequestToken: string;
}

export type Log = (message: string, fields?: Record<string, unknown>) => void;

export interface RotationOptions extends ConnectOptions {
  client: SecretsManagerClient;
  log?: Log;
  /** GetRandomPassword's ExcludeCharacters for database passwords; the default keeps them safe in URLs and shells. */
  excludeCharacters?: string;
  /** Length of new passwords and tokens (tokens: at least 32). */
  passwordLength?: number;
}

/** One step of one kind: `token` is the version (ClientRequestToken) being rotated to. */
export type StepFn = (secretId: string, token: string) => Promise<void>;
/** What a kind supplies: every step but finishSecret, which is the protocol's own. */
export type KindSteps = Record<Exclude<Step, 'finishSecret'>, StepFn>;

export const jsonLog: Log = (message, fields) => console.log(JSON.stringify({ message, ...fields }));

export const isNotFound = (error: unknown) => (error as { name?: string }).name === 'ResourceNotFoundException';

/** One version's SecretString, with the label errors name it by (`<name> (<stage>)`; never the value). */
export async function readVersion(client: SecretsManagerClient, secretId: string, stage: string, versionId?: string): Promise<{ value: string | undefined; label: string }> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage, VersionId: versionId }));
  return { value: out.SecretString, label: `${out.Name ?? secretId} (${stage})` };
}

/**
 * createSecret's re-run guard: true when the AWSPENDING version `token` already exists (`read`
 * reads and parses it, so a malformed one still throws), false when Secrets Manager has none.
 */
export async function pendingVersionExists(read: () => Promise<unknown>, log: Log, secretId: string, token: string): Promise<boolean> {
  try {
    await read();
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
  log('createSecret: pending version already exists', { secretId, versionId: token });
  return true;
}

/** GetRandomPassword, failing clearly when the answer has no password. */
export async function randomPassword(client: SecretsManagerClient, input: GetRandomPasswordCommandInput): Promise<string> {
  const { RandomPassword } = await client.send(new GetRandomPasswordCommand(input));
  if (!RandomPassword) throw new Error('GetRandomPassword returned no password');
  return RandomPassword;
}

/** Puts `value` (JSON) as the AWSPENDING version `token`. */
export async function putPendingVersion(client: SecretsManagerClient, secretId: string, token: string, value: unknown): Promise<void> {
  await client.send(new PutSecretValueCommand({ SecretId: secretId, ClientRequestToken: token, SecretString: JSON.stringify(value), VersionStages: ['AWSPENDING'] }));
}

export async function versionsToStages(client: SecretsManagerClient, secretId: string): Promise<Record<string, string[]>> {
  const described = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  return described.VersionIdsToStages ?? {};
}

/** Moves AWSCURRENT to the pending version; Secrets Manager moves AWSPREVIOUS along. Same for every kind. */
export async function finishSecret(client: SecretsManagerClient, log: Log, secretId: string, token: string): Promise<void> {
  const stages = await versionsToStages(client, secretId);
  const current = Object.keys(stages).find((id) => stages[id]!.includes('AWSCURRENT'));
  if (current === token) {
    log('finishSecret: version is already AWSCURRENT', { secretId, versionId: token });
    return;
  }
  await client.send(
    new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT', MoveToVersionId: token, RemoveFromVersionId: current }),
  );
  log('finishSecret: AWSCURRENT moved', { secretId, versionId: token, previousVersionId: current });
}

/**
 * The precondition of every step in the AWS contract. Returns false when the version is already
 * AWSCURRENT (nothing left to do).
 */
export async function checkVersion(
  client: SecretsManagerClient,
  secretId: string,
  token: string,
  { requireRotationEnabled, allowNewVersion }: { requireRotationEnabled: boolean; allowNewVersion: boolean },
): Promise<boolean> {
  const described = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  if (requireRotationEnabled && !described.RotationEnabled) throw new Error(`secret ${secretId} is not enabled for rotation`);
  const stages = described.VersionIdsToStages?.[token];
  if (!stages) {
    if (allowNewVersion) return true;
    throw new Error(`secret version ${token} has no stage for rotation of secret ${secretId}`);
  }
  if (stages.includes('AWSCURRENT')) return false;
  if (!stages.includes('AWSPENDING')) throw new Error(`secret version ${token} is not set as AWSPENDING for rotation of secret ${secretId}`);
  return true;
}

/** Which rotation a secret gets, from the shape of its value: `{"token"}` or the RDS-style database JSON. */
export type SecretKind = 'database' | 'token';

/** The kind of a SecretString; errors name the secret (`label`), never the value. */
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

/** The four steps for a secret of a kind: the kind's three and the protocol's finishSecret. */
export function withFinish(options: RotationOptions, steps: KindSteps): Record<Step, StepFn> {
  const log = options.log ?? jsonLog;
  return { ...steps, finishSecret: (secretId, token) => finishSecret(options.client, log, secretId, token) };
}
