import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretsManagerDouble } from '../../test/support/secrets-manager-double';
import { applyBootstrap, planBootstrap, SECRET_KEYS, type BootstrapInput, type BootstrapStep, type SecretKey } from './bootstrap';
import { TOKEN_PATTERN } from './token-steps';

const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:tasks-rotate-secrets';
const database = { engine: 'postgres', host: 'database.tasks-test-database.svc.cluster.local', port: 5432, dbname: 'tasks' } as const;

const inputFor = (env: string, extra: Partial<BootstrapInput> = {}): BootstrapInput => ({
  names: { admin: `tasks/${env}/db-admin`, app: `tasks/${env}/db-app`, token: `tasks/${env}/internal-token` },
  database,
  adminUser: 'postgres',
  appUser: 'tasks_app',
  tags: [{ Key: 'environment', Value: env }],
  rotationDays: 30,
  ...extra,
});

describe('bootstrap through the AWS contract (real SDK, local Secrets Manager)', () => {
  let sm: SecretsManagerDouble;
  let client: SecretsManagerClient;
  const invoked: string[] = [];
  beforeAll(async () => {
    sm = await SecretsManagerDouble.start();
    client = sm.client();
    sm.registerRotationFunction(FUNCTION_ARN, async (event) => invoked.push(event.Step));
  });
  afterAll(async () => {
    client?.destroy();
    await sm?.close();
  });

  const value = async (secretId: string, stage = 'AWSCURRENT') =>
    JSON.parse((await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }))).SecretString!) as Record<string, unknown>;
  const existingValue: Record<SecretKey, Record<string, unknown>> = {
    admin: { ...database, username: 'owner', password: 'existing-admin-password' },
    app: { ...database, username: 'app', password: 'existing-app-password', masterarn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:elsewhere' },
    token: { token: 'Existing0token0with0letters0and0digits' },
  };

  // Every combination of secrets that already exist: the plan creates exactly the missing ones, the
  // apply never overwrites the others, and a second plan has nothing left to do.
  const combinations = Array.from({ length: 8 }, (_, i) => SECRET_KEYS.filter((_, bit) => i & (1 << bit)));
  it.each(combinations.map((present, i) => [present.join('+') || 'none', present, i] as const))('with %s existing', async (_label, present, i) => {
    const input = inputFor(`combo${i}`);
    const arns: Partial<Record<SecretKey, string>> = {};
    for (const key of present) {
      arns[key] = (await client.send(new CreateSecretCommand({ Name: input.names[key], SecretString: JSON.stringify(existingValue[key]) }))).ARN!;
    }
    const callsBefore = sm.calls.length;
    const plan = await planBootstrap(client, input);
    expect(sm.calls.slice(callsBefore).every((op) => op === 'DescribeSecret')).toBe(true);
    for (const key of SECRET_KEYS) expect(plan.existing[key]?.ARN).toBe(arns[key]);
    expect(plan.creates).toEqual(SECRET_KEYS.filter((k) => !present.includes(k)));
    // A token created once has no AWSPREVIOUS; a missing one will not have it either.
    expect(plan.tokenNeedsPrevious).toBe(true);
    expect(plan.rotationChanges).toEqual([]);
    expect(plan.nothingToDo).toBe(false);

    const steps: BootstrapStep[] = [];
    await applyBootstrap(client, input, plan, (step) => steps.push(step));
    const created = steps.filter((s) => s.step === 'created');
    expect(created.map((s) => s.name)).toEqual(plan.creates.map((k) => input.names[k]));
    expect(steps.filter((s) => s.step !== 'created')).toEqual([{ step: 'previous-added', name: input.names.token }]);

    for (const key of present) expect(await value(input.names[key])).toEqual(existingValue[key]);
    const adminArn = arns.admin ?? created.find((s) => s.name === input.names.admin)!.arn;
    if (!present.includes('app')) {
      const app = await value(input.names.app);
      expect(app).toMatchObject({ ...database, username: 'tasks_app', masterarn: adminArn });
      expect(app.password).toHaveLength(32);
      expect(JSON.stringify(steps)).not.toContain(app.password);
    }
    if (!present.includes('admin')) expect(await value(input.names.admin)).toMatchObject({ ...database, username: 'postgres' });
    const currentToken = (await value(input.names.token)).token as string;
    expect(currentToken).toMatch(TOKEN_PATTERN);
    expect((await value(input.names.token, 'AWSPREVIOUS')).token).toBe(currentToken);
    expect(JSON.stringify(steps)).not.toContain(currentToken);

    const again = await planBootstrap(client, input);
    expect(again).toMatchObject({ creates: [], tokenNeedsPrevious: false, rotationChanges: [], nothingToDo: true });
  });

  it('a token that already has AWSPREVIOUS needs no new version', async () => {
    const input = inputFor('previous');
    for (const key of SECRET_KEYS) await client.send(new CreateSecretCommand({ Name: input.names[key], SecretString: JSON.stringify(existingValue[key]) }));
    await client.send(new PutSecretValueCommand({ SecretId: input.names.token, SecretString: JSON.stringify(existingValue.token), VersionStages: ['AWSCURRENT'] }));
    expect(await planBootstrap(client, input)).toMatchObject({ creates: [], tokenNeedsPrevious: false, nothingToDo: true });
  });

  it('turns rotation on for the app credentials and the token, and again only when function or schedule change', async () => {
    const input = inputFor('rotation', { rotationLambdaArn: FUNCTION_ARN, rotationDays: 7 });
    const withoutFunction = await planBootstrap(client, { ...input, rotationLambdaArn: undefined });
    expect(withoutFunction.rotationChanges).toEqual([]);
    await applyBootstrap(client, input, withoutFunction, () => {});

    const plan = await planBootstrap(client, input);
    expect(plan).toMatchObject({ schedule: 'rate(7 days)', rotationUnchanged: { app: false, token: false }, rotationChanges: ['app', 'token'], nothingToDo: false });
    const steps: BootstrapStep[] = [];
    await applyBootstrap(client, input, plan, (step) => steps.push(step));
    expect(steps).toEqual([
      { step: 'rotation-on', name: input.names.app, schedule: 'rate(7 days)' },
      { step: 'rotation-on', name: input.names.token, schedule: 'rate(7 days)' },
    ]);
    for (const key of ['app', 'token'] as const) {
      const described = await client.send(new DescribeSecretCommand({ SecretId: input.names[key] }));
      expect(described).toMatchObject({ RotationEnabled: true, RotationLambdaARN: FUNCTION_ARN, RotationRules: { ScheduleExpression: 'rate(7 days)' } });
    }
    // RotateImmediately=false: the first rotation follows the schedule.
    expect(invoked).toEqual([]);

    expect(await planBootstrap(client, input)).toMatchObject({ rotationUnchanged: { app: true, token: true }, rotationChanges: [], nothingToDo: true });
    expect(await planBootstrap(client, { ...input, rotationDays: 14 })).toMatchObject({ rotationChanges: ['app', 'token'], nothingToDo: false });
    const otherFunction = 'arn:aws:lambda:us-east-1:123456789012:function:other';
    expect(await planBootstrap(client, { ...input, rotationLambdaArn: otherFunction })).toMatchObject({ rotationChanges: ['app', 'token'] });
  });
});
