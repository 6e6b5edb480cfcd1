import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretsManagerDouble } from './support/secrets-manager-double';

// The stand-in must behave like the service where rotation depends on it; these checks drive it
// with the real SDK client so protocol and error shapes are the SDK's, not ours.
let sm: SecretsManagerDouble;
let client: SecretsManagerClient;
beforeAll(async () => {
  sm = await SecretsManagerDouble.start();
  client = sm.client();
});
afterAll(async () => {
  client?.destroy();
  await sm?.close();
});

async function rejection(promise: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as { name: string; message: string; $metadata?: { httpStatusCode?: number } },
  );
  if (!error) throw new Error('expected the call to fail');
  return { name: error.name, message: error.message, status: error.$metadata?.httpStatusCode };
}

describe('local Secrets Manager stand-in', () => {
  it('creates a secret with AWSCURRENT and finds it by name, ARN and partial ARN', async () => {
    const created = await client.send(new CreateSecretCommand({ Name: 'double/one', SecretString: '{"a":1}' }));
    expect(created.ARN).toMatch(/^arn:aws:secretsmanager:us-east-1:\d{12}:secret:double\/one-[A-Za-z0-9]{6}$/);
    for (const id of ['double/one', created.ARN!, created.ARN!.slice(0, -7)]) {
      const value = await client.send(new GetSecretValueCommand({ SecretId: id }));
      expect(value.SecretString).toBe('{"a":1}');
      expect(value.VersionStages).toEqual(['AWSCURRENT']);
    }
    const again = await rejection(client.send(new CreateSecretCommand({ Name: 'double/one', SecretString: '{}' })));
    expect(again).toMatchObject({ name: 'ResourceExistsException', status: 400 });
  });

  it('answers unknown secrets with ResourceNotFoundException', async () => {
    const error = await rejection(client.send(new DescribeSecretCommand({ SecretId: 'double/missing' })));
    expect(error).toMatchObject({ name: 'ResourceNotFoundException', status: 400 });
    expect(error.message).toContain("can't find the specified secret");
  });

  it('treats ClientRequestToken as an idempotency key for the version value', async () => {
    await client.send(new CreateSecretCommand({ Name: 'double/token', SecretString: 'v1' }));
    const token = randomUUID();
    const put = () => client.send(new PutSecretValueCommand({ SecretId: 'double/token', ClientRequestToken: token, SecretString: 'v2' }));
    const first = await put();
    const retry = await put();
    expect(retry.VersionId).toBe(first.VersionId);
    const conflict = await rejection(
      client.send(new PutSecretValueCommand({ SecretId: 'double/token', ClientRequestToken: token, SecretString: 'v3' })),
    );
    expect(conflict.name).toBe('ResourceExistsException');
    expect((await client.send(new GetSecretValueCommand({ SecretId: 'double/token' }))).SecretString).toBe('v2');
  });

  it('moves AWSPREVIOUS with AWSCURRENT and insists on the right RemoveFromVersionId', async () => {
    const { VersionId: v1 } = await client.send(new CreateSecretCommand({ Name: 'double/stages', SecretString: 'one' }));
    const v2 = randomUUID();
    await client.send(
      new PutSecretValueCommand({ SecretId: 'double/stages', ClientRequestToken: v2, SecretString: 'two', VersionStages: ['AWSPENDING'] }),
    );
    expect(sm.stages('double/stages')).toEqual({ [v1!]: ['AWSCURRENT'], [v2]: ['AWSPENDING'] });

    const pending = await client.send(new GetSecretValueCommand({ SecretId: 'double/stages', VersionId: v2, VersionStage: 'AWSPENDING' }));
    expect(pending.SecretString).toBe('two');
    const wrongStage = await rejection(
      client.send(new GetSecretValueCommand({ SecretId: 'double/stages', VersionId: v2, VersionStage: 'AWSCURRENT' })),
    );
    expect(wrongStage.name).toBe('ResourceNotFoundException');

    const missingRemove = await rejection(
      client.send(new UpdateSecretVersionStageCommand({ SecretId: 'double/stages', VersionStage: 'AWSCURRENT', MoveToVersionId: v2 })),
    );
    expect(missingRemove.name).toBe('InvalidParameterException');
    const wrongRemove = await rejection(
      client.send(
        new UpdateSecretVersionStageCommand({ SecretId: 'double/stages', VersionStage: 'AWSCURRENT', MoveToVersionId: v2, RemoveFromVersionId: v2 }),
      ),
    );
    expect(wrongRemove.name).toBe('InvalidParameterException');

    await client.send(
      new UpdateSecretVersionStageCommand({ SecretId: 'double/stages', VersionStage: 'AWSCURRENT', MoveToVersionId: v2, RemoveFromVersionId: v1 }),
    );
    expect(sm.stages('double/stages')).toEqual({ [v1!]: ['AWSPREVIOUS'], [v2]: ['AWSPENDING', 'AWSCURRENT'] });

    // A third version: AWSPREVIOUS leaves v1, which then has no label and drops out of the listing.
    const v3 = randomUUID();
    await client.send(new PutSecretValueCommand({ SecretId: 'double/stages', ClientRequestToken: v3, SecretString: 'three' }));
    expect(sm.stages('double/stages')).toEqual({ [v2]: ['AWSPENDING', 'AWSPREVIOUS'], [v3]: ['AWSCURRENT'] });
    const described = await client.send(new DescribeSecretCommand({ SecretId: 'double/stages' }));
    expect(Object.keys(described.VersionIdsToStages ?? {}).sort()).toEqual([v2, v3].sort());
    expect(described.LastChangedDate).toBeInstanceOf(Date);
  });

  it('generates passwords that honour the length and excluded characters', async () => {
    const { RandomPassword } = await client.send(new GetRandomPasswordCommand({ PasswordLength: 40, ExcludeCharacters: ':/@"\'\\' }));
    expect(RandomPassword).toHaveLength(40);
    expect(RandomPassword).not.toMatch(/[:/@"'\\]/);
    expect(RandomPassword).toMatch(/[a-z]/);
    expect(RandomPassword).toMatch(/[A-Z]/);
    expect(RandomPassword).toMatch(/[0-9]/);
  });
});
