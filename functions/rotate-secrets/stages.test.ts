import {
  CreateSecretCommand,
  DescribeSecretCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretsManagerDouble } from '../../test/support/secrets-manager-double';
import { createRotationHandler } from './handler';
import {
  currentKind,
  followRotation,
  MIN_MINUTES_BETWEEN_ROTATIONS,
  minutesSinceLastChange,
  startRotation,
  tooSoonToRotate,
  unfinishedVersion,
  versionWith,
  type StageChange,
} from './stages';

const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:tasks-rotate-secrets';
const BROKEN_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:rotate-broken';
const token = (n: number) => JSON.stringify({ token: `Token${n}`.padEnd(40, '0') });
const MINUTE = 60_000;

describe('versionWith and unfinishedVersion', () => {
  it('find the version holding a label, and a rotation that started and did not finish', () => {
    const stages = { a: ['AWSPREVIOUS'], b: ['AWSCURRENT'], c: ['AWSPENDING'] };
    expect(versionWith(stages, 'AWSCURRENT')).toBe('b');
    expect(versionWith(stages, 'AWSPREVIOUS')).toBe('a');
    expect(versionWith({ b: ['AWSCURRENT'] }, 'AWSPREVIOUS')).toBeUndefined();
    expect(versionWith(undefined, 'AWSCURRENT')).toBeUndefined();
    expect(unfinishedVersion(stages)).toBe('c');
    // A finished rotation may leave AWSPENDING on the version that became current.
    expect(unfinishedVersion({ a: ['AWSPREVIOUS'], b: ['AWSCURRENT', 'AWSPENDING'] })).toBeUndefined();
    expect(unfinishedVersion(undefined)).toBeUndefined();
  });
});

describe('stages through the AWS contract (real SDK, local Secrets Manager)', () => {
  let sm: SecretsManagerDouble;
  let client: SecretsManagerClient;
  beforeAll(async () => {
    sm = await SecretsManagerDouble.start();
    client = sm.client();
    sm.registerRotationFunction(FUNCTION_ARN, createRotationHandler({ client: sm.client(), log: () => {} }));
    sm.registerRotationFunction(BROKEN_ARN, async (event) => {
      if (event.Step === 'setSecret') throw new Error('database unreachable');
    });
  });
  afterAll(async () => {
    client?.destroy();
    await sm?.close();
  });

  const create = async (name: string, secretString = token(1)) => (await client.send(new CreateSecretCommand({ Name: name, SecretString: secretString }))).ARN!;
  const currentCreated = async (arn: string) =>
    (await client.send(new ListSecretVersionIdsCommand({ SecretId: arn }))).Versions!.find((v) => v.VersionStages?.includes('AWSCURRENT'))!.CreatedDate!.getTime();

  it('the timing guard: no previous version is always safe; otherwise wait the minimum after the last change', async () => {
    const arn = await create('tasks/test/guard');
    // Never rotated: nobody can hold the pair a rotation changes.
    expect(await minutesSinceLastChange(client, arn)).toBeUndefined();
    expect(await tooSoonToRotate(client, arn)).toBeUndefined();

    await client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: token(2), VersionStages: ['AWSCURRENT'] }));
    const created = await currentCreated(arn);
    expect(await minutesSinceLastChange(client, arn, created + 3 * MINUTE)).toBeCloseTo(3, 6);
    expect(await tooSoonToRotate(client, arn, created + 9.9 * MINUTE)).toBe(
      'the current version is only 9 min old; pods may still hold the previous pair, whose password this rotation would change. ' +
        `Wait ${MIN_MINUTES_BETWEEN_ROTATIONS} min between rotations`,
    );
    expect(await tooSoonToRotate(client, arn)).toMatch(/^the current version is only 0 min old/);
    expect(await tooSoonToRotate(client, arn, created + MIN_MINUTES_BETWEEN_ROTATIONS * MINUTE)).toBeUndefined();
    expect(await tooSoonToRotate(client, arn, created + 60 * MINUTE)).toBeUndefined();
  });

  it('currentKind reads the AWSCURRENT value to tell a token from database credentials', async () => {
    const tokenArn = await create('tasks/test/kind-token');
    const dbArn = await create('tasks/test/kind-db', JSON.stringify({ engine: 'postgres', host: 'h', port: 5432, username: 'u', password: 'p', dbname: 'd' }));
    expect(await currentKind(client, tokenArn, 'tasks/test/kind-token')).toBe('token');
    expect(await currentKind(client, dbArn, 'tasks/test/kind-db')).toBe('database');
    const other = await create('tasks/test/kind-other', '[]');
    await expect(currentKind(client, other, 'tasks/test/kind-other')).rejects.toThrow('tasks/test/kind-other is neither a database secret');
  });

  it('startRotation and followRotation: reports each change of labels until the new version is AWSCURRENT', async () => {
    const arn = await create('tasks/test/follow');
    const before = versionWith((await client.send(new DescribeSecretCommand({ SecretId: arn }))).VersionIdsToStages, 'AWSCURRENT');
    await client.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: FUNCTION_ARN, RotateImmediately: false }));
    const versionId = await startRotation(client, arn);
    const changes: StageChange[] = [];
    await followRotation(client, arn, versionId, { timeoutMs: 10_000, pollMs: 20, report: (c) => changes.push(c) });
    expect(changes.at(-1)).toEqual({ state: 'current', versionId, previous: before });
    for (const change of changes.slice(0, -1)) expect(change).toEqual({ state: 'pending', versionId });
    expect(sm.stages(arn)[versionId]).toEqual(['AWSCURRENT']);
  });

  it('followRotation gives up after the timeout, naming the function whose logs say why', async () => {
    const arn = await create('tasks/test/stuck');
    await client.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: BROKEN_ARN, RotateImmediately: false }));
    const versionId = await startRotation(client, arn);
    const changes: StageChange[] = [];
    await expect(followRotation(client, arn, versionId, { timeoutMs: 300, pollMs: 20, report: (c) => changes.push(c) })).rejects.toThrow(
      `rotation has not finished after 0.3s: AWSPENDING is on ${versionId}, AWSCURRENT unchanged. ` +
        `Secrets Manager retries it; check the rotation function's logs (${BROKEN_ARN}).`,
    );
    expect(changes).toEqual([{ state: 'pending', versionId }]);
    expect(unfinishedVersion(sm.stages(arn))).toBe(versionId);
  });
});
