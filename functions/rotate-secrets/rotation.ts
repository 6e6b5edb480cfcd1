import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { randomUUID } from 'node:crypto';
import { applyPendingCredentials, canLogIn, withConnection, type ConnectOptions } from './database';
import { alternateUsername, parseDatabaseSecret, sameDatabase, type DatabaseSecret } from './secret';
import { secretKind, tokenRotationSteps } from './token';

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
  /** GetRandomPassword's ExcludeCharacters; the default keeps passwords safe in URLs and shells. */
  excludeCharacters?: string;
  passwordLength?: number;
}

export const DEFAULT_EXCLUDE_CHARACTERS = ':/@"\'\\';

const jsonLog: Log = (message, fields) => console.log(JSON.stringify({ message, ...fields }));

function isNotFound(error: unknown): boolean {
  return (error as { name?: string }).name === 'ResourceNotFoundException';
}

/**
 * The four steps of the Secrets Manager rotation contract with the alternating-users strategy.
 * Each step is safe to run again: it checks what is already done before doing it.
 */
export function rotationSteps(options: RotationOptions) {
  const { client } = options;
  const log = options.log ?? jsonLog;

  async function getSecret(secretId: string, stage: string, versionId?: string): Promise<DatabaseSecret & { raw: Record<string, unknown> }> {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage, VersionId: versionId }));
    const secret = parseDatabaseSecret(out.SecretString, `${out.Name ?? secretId} (${stage})`);
    return { ...secret, raw: JSON.parse(out.SecretString!) as Record<string, unknown> };
  }

  return {
    /** Puts a new AWSPENDING version under `token`: the alternate user with a fresh random password. */
    async createSecret(secretId: string, token: string): Promise<void> {
      const current = await getSecret(secretId, 'AWSCURRENT');
      try {
        await getSecret(secretId, 'AWSPENDING', token);
        log('createSecret: pending version already exists', { secretId, versionId: token });
        return;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      const { RandomPassword } = await client.send(
        new GetRandomPasswordCommand({
          PasswordLength: options.passwordLength ?? 32,
          ExcludeCharacters: options.excludeCharacters ?? DEFAULT_EXCLUDE_CHARACTERS,
        }),
      );
      if (!RandomPassword) throw new Error('GetRandomPassword returned no password');
      const username = alternateUsername(current.username);
      await client.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          SecretString: JSON.stringify({ ...current.raw, username, password: RandomPassword }),
          VersionStages: ['AWSPENDING'],
        }),
      );
      log('createSecret: put pending version', { secretId, versionId: token, username });
    },

    /** Makes the pending credentials valid in PostgreSQL, acting as the master user from `masterarn`. */
    async setSecret(secretId: string, token: string): Promise<void> {
      const current = await getSecret(secretId, 'AWSCURRENT');
      const pending = await getSecret(secretId, 'AWSPENDING', token);

      // Guards before anything else: only the current user's alternate, only on the same server.
      if (pending.username !== alternateUsername(current.username)) {
        throw new Error(`refusing to set user ${pending.username}: the pending user must be ${alternateUsername(current.username)}, the alternate of ${current.username}`);
      }
      if (!sameDatabase(current, pending) || current.dbname !== pending.dbname) {
        throw new Error(
          `refusing to set user ${pending.username} on ${pending.host}:${pending.port}/${pending.dbname}: the current secret points at ${current.host}:${current.port}/${current.dbname}`,
        );
      }
      if (await canLogIn(pending, options)) {
        log('setSecret: pending credentials already work', { secretId, versionId: token, username: pending.username });
        return;
      }
      // The current credentials must work too, so a forged secret cannot make us act on another server.
      if (!(await canLogIn(current, options))) {
        throw new Error(`cannot log in with the current credentials of ${current.username}; refusing to rotate`);
      }
      if (!current.masterarn) throw new Error('the current secret has no masterarn: cannot find the master credentials');
      const masterOut = await getSecret(current.masterarn, 'AWSCURRENT');
      const master = { ...masterOut, dbname: current.dbname };
      if (!sameDatabase(master, current)) {
        throw new Error(`the master secret points at ${master.host}:${master.port}, the app secret at ${current.host}:${current.port}`);
      }
      if (master.username === pending.username) throw new Error('refusing to rotate the master user through an app secret');
      const outcome = await applyPendingCredentials(master, pending, current.username, options);
      log(`setSecret: ${outcome} ${pending.username}`, { secretId, versionId: token, username: pending.username });
    },

    /** Logs in with the pending credentials and runs a query. */
    async testSecret(secretId: string, token: string): Promise<void> {
      const pending = await getSecret(secretId, 'AWSPENDING', token);
      try {
        await withConnection(pending, options, (c) => c.query('SELECT now()'));
      } catch (error) {
        throw new Error(`testSecret: the pending credentials for ${pending.username} do not work: ${(error as Error).message}`);
      }
      log('testSecret: pending credentials work', { secretId, versionId: token, username: pending.username });
    },

    finishSecret: (secretId: string, token: string) => finishSecret(client, log, secretId, token),
  };
}

/** Moves AWSCURRENT to the pending version; Secrets Manager moves AWSPREVIOUS along. Same for every kind. */
async function finishSecret(client: SecretsManagerClient, log: Log, secretId: string, token: string): Promise<void> {
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
 * The steps for this secret, chosen by the shape of its AWSCURRENT value: the database credentials
 * (alternating users) or the internal token (a new random token).
 */
export async function stepsFor(options: RotationOptions, secretId: string): Promise<Record<Step, (secretId: string, token: string) => Promise<void>>> {
  const { client } = options;
  const log = options.log ?? jsonLog;
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }));
  if (secretKind(out.SecretString, `${out.Name ?? secretId} (AWSCURRENT)`) === 'database') return rotationSteps(options);
  return { ...tokenRotationSteps({ client, log, tokenLength: options.passwordLength }), finishSecret: (id, token) => finishSecret(client, log, id, token) };
}

async function versionsToStages(client: SecretsManagerClient, secretId: string): Promise<Record<string, string[]>> {
  const described = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  return described.VersionIdsToStages ?? {};
}

/**
 * The precondition of every step in the AWS contract. Returns false when the version is already
 * AWSCURRENT (nothing left to do).
 */
async function checkVersion(
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

/** The Lambda entry point's logic: one step per invocation, as Secrets Manager calls it. */
export function createRotationHandler(options: RotationOptions): (event: RotationEvent) => Promise<void> {
  const log = options.log ?? jsonLog;
  return async (event) => {
    const { Step: step, SecretId: secretId, ClientRequestToken: token } = event ?? {};
    if (!STEPS.includes(step) || !secretId || !token) {
      throw new Error(`invalid rotation event: expected Step (one of ${STEPS.join(', ')}), SecretId and ClientRequestToken`);
    }
    if (!(await checkVersion(options.client, secretId, token, { requireRotationEnabled: true, allowNewVersion: false }))) {
      log(`${step}: version is already AWSCURRENT`, { secretId, versionId: token });
      return;
    }
    const steps = await stepsFor(options, secretId);
    await steps[step](secretId, token);
  };
}

export interface LocalRotationResult {
  versionId: string;
  resumed: boolean;
}

/**
 * Runs all four steps from this process, playing the part of the Secrets Manager service: for teams
 * that do not run the Lambda, and for tests. An unfinished rotation (AWSPENDING on a version that is
 * not AWSCURRENT) is resumed rather than started over, as the service would retry it.
 */
export async function rotateLocally(
  options: RotationOptions,
  secretId: string,
  onStep: (step: Step, versionId: string) => void = () => {},
): Promise<LocalRotationResult> {
  const { client } = options;
  const steps = await stepsFor(options, secretId);
  const stages = await versionsToStages(client, secretId);
  const unfinished = Object.keys(stages).find((id) => stages[id]!.includes('AWSPENDING') && !stages[id]!.includes('AWSCURRENT'));
  const token = unfinished ?? randomUUID();
  for (const step of STEPS) {
    const check = { requireRotationEnabled: false, allowNewVersion: step === 'createSecret' };
    if (await checkVersion(client, secretId, token, check)) await steps[step](secretId, token);
    onStep(step, token);
  }
  // The service drops AWSPENDING once the rotation has finished; so must we, or the next one is refused.
  const after = await versionsToStages(client, secretId);
  if (after[token]?.includes('AWSPENDING')) {
    await client.send(new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: 'AWSPENDING', RemoveFromVersionId: token }));
  }
  return { versionId: token, resumed: unfinished !== undefined };
}
