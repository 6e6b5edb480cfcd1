import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretsManagerDouble } from '../../test/support/secrets-manager-double';
import { createRotationHandler } from './handler';
import { rotateLocally } from './local';
import { secretKind } from './protocol';
import { parseTokenSecret, TOKEN_PATTERN } from './token-steps';

const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:tasks-rotate-secrets';
const first = 'Initial0token0with0letters0and0digits0';

describe('secretKind and parseTokenSecret', () => {
  it('tells an internal token from a database secret by its shape', () => {
    expect(secretKind(JSON.stringify({ token: first }), 'x')).toBe('token');
    expect(secretKind(JSON.stringify({ engine: 'postgres', username: 'u', password: 'p', host: 'h' }), 'x')).toBe('database');
    expect(() => secretKind('[]', 'tasks/dev/other')).toThrow('tasks/dev/other is neither a database secret');
    expect(() => secretKind('not json', 'tasks/dev/other')).toThrow('tasks/dev/other is not valid JSON');
  });

  it('refuses a token nginx could not send, naming the secret but never the value', () => {
    for (const bad of [{ token: 'short1' }, { token: 'has space and punctuation!!!!!!!!!!!!!' }, { token: first, extra: 'x' }]) {
      let message = '';
      try {
        parseTokenSecret(JSON.stringify(bad), 'tasks/dev/internal-token (AWSPENDING)');
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain('tasks/dev/internal-token (AWSPENDING) is not a valid internal token secret');
      expect(message).not.toContain(bad.token);
    }
    expect(parseTokenSecret(JSON.stringify({ token: first }), 'x')).toEqual({ token: first });
  });

  it('matches the JSON Schema in secrets/aws', () => {
    const schema = JSON.parse(readFileSync(new URL('../../secrets/aws/internal-token.schema.json', import.meta.url), 'utf8')) as {
      properties: { token: { pattern: string } };
    };
    expect(schema.properties.token.pattern).toBe(TOKEN_PATTERN.source);
  });
});

describe('internal token rotation through the AWS contract (real SDK, local Secrets Manager)', () => {
  let sm: SecretsManagerDouble;
  const client = () => sm.client();
  beforeAll(async () => {
    sm = await SecretsManagerDouble.start();
    sm.registerRotationFunction(FUNCTION_ARN, createRotationHandler({ client: sm.client(), log: () => {} }));
  });
  afterAll(async () => sm?.close());

  const value = async (id: string, stage: string) =>
    (JSON.parse((await client().send(new GetSecretValueCommand({ SecretId: id, VersionStage: stage }))).SecretString!) as { token: string }).token;

  it('RotateSecret: a new random token becomes AWSCURRENT and the old one AWSPREVIOUS', async () => {
    const { ARN } = await client().send(new CreateSecretCommand({ Name: 'tasks/test/internal-token', SecretString: JSON.stringify({ token: first }) }));
    const seen = new Set([first]);
    for (let i = 0; i < 2; i++) {
      const before = await value(ARN!, 'AWSCURRENT');
      const { VersionId } = await client().send(new RotateSecretCommand({ SecretId: ARN, RotationLambdaARN: FUNCTION_ARN }));
      const run = sm.rotations.find((r) => r.versionId === VersionId)!;
      await run.done;
      expect(run.error).toBeUndefined();
      expect(run.stepsCompleted).toEqual(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
      const after = await value(ARN!, 'AWSCURRENT');
      expect(after).toMatch(TOKEN_PATTERN);
      expect(seen.has(after)).toBe(false);
      seen.add(after);
      expect(await value(ARN!, 'AWSPREVIOUS')).toBe(before);
      const stages = (await client().send(new DescribeSecretCommand({ SecretId: ARN }))).VersionIdsToStages!;
      expect(stages[VersionId!]).toEqual(['AWSCURRENT']);
      expect(Object.values(stages).flat().sort()).toEqual(['AWSCURRENT', 'AWSPREVIOUS']);
    }
  });

  it('rotateLocally needs no database; each run rotates from the token that is current', async () => {
    const { ARN } = await client().send(new CreateSecretCommand({ Name: 'tasks/test/internal-token-local', SecretString: JSON.stringify({ token: first }) }));
    const steps: string[] = [];
    const result = await rotateLocally({ client: client(), log: () => {} }, ARN!, (step) => steps.push(step));
    expect(result.resumed).toBe(false);
    expect(steps).toEqual(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
    expect(await value(ARN!, 'AWSPREVIOUS')).toBe(first);
    expect(await value(ARN!, 'AWSCURRENT')).not.toBe(first);
    // Running it again rotates once more, from the token that is current now.
    const current = await value(ARN!, 'AWSCURRENT');
    await rotateLocally({ client: client(), log: () => {} }, ARN!);
    expect(await value(ARN!, 'AWSPREVIOUS')).toBe(current);
  });
});
