import { DescribeSecretCommand, GetSecretValueCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRotationHandler } from '../functions/rotate-secrets/handler';
import { loginAs, ROTATION_FUNCTION_ARN, startRotationFixture, type DbSecretValue, type RotationFixture } from './support/rotation-fixture';

// `npm run rotate` and `npm run secrets:bootstrap` as the security team runs them, in a child
// process, against the local Secrets Manager stand-in (--endpoint) and a SCRAM-only PostgreSQL.
const root = fileURLToPath(new URL('..', import.meta.url));
let fx: RotationFixture;

beforeAll(async () => {
  fx = await startRotationFixture();
  fx.sm.registerRotationFunction(ROTATION_FUNCTION_ARN, createRotationHandler({ client: fx.client, log: () => {} }));
});
afterAll(async () => {
  await fx?.stop();
});

function cli(script: string, args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, '--endpoint', fx.sm.endpoint, ...args], {
      cwd: root,
      env: { ...process.env, ...fx.sm.clientEnv(), NODE_NO_WARNINGS: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

async function current(secretId: string): Promise<DbSecretValue & { versionId: string }> {
  const out = await fx.client.send(new GetSecretValueCommand({ SecretId: secretId }));
  return { ...(JSON.parse(out.SecretString!) as DbSecretValue), versionId: out.VersionId! };
}

describe('npm run rotate', () => {
  it('--local runs the four steps itself and reports each one', async () => {
    const { arn, value } = await fx.createAppSecret('tasks/test/db-app-cli-local', 'cli_local');
    const run = await cli('scripts/rotate.ts', ['--secret-id', 'tasks/test/db-app-cli-local', '--local', '--yes']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const after = await current(arn);
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) {
      expect(run.stdout).toContain(`${step} done (version ${after.versionId})`);
    }
    expect(run.stdout).toContain(`rotated: AWSCURRENT is ${after.versionId}`);
    expect(after.username).toBe('cli_local_clone');
    expect(await loginAs(after)).toBe('cli_local_clone');
    expect(fx.sm.stages(arn)[after.versionId]).toEqual(['AWSCURRENT']);
    expect(run.stdout).not.toContain(after.password);
    expect(run.stdout).not.toContain(value.password);
  });

  it('refuses a second rotation within minutes of the last one unless --force is given', async () => {
    const { arn } = await fx.createAppSecret('tasks/test/db-app-cli-twice', 'cli_twice');
    expect((await cli('scripts/rotate.ts', ['--secret-id', arn, '--local', '--yes'])).code).toBe(0);
    const first = await current(arn);

    const again = await cli('scripts/rotate.ts', ['--secret-id', arn, '--local', '--yes']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('the current version is only 0 min old; pods may still hold the previous pair');
    expect((await current(arn)).versionId).toBe(first.versionId);

    const forced = await cli('scripts/rotate.ts', ['--secret-id', arn, '--local', '--yes', '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('(--force given)');
    expect((await current(arn)).username).toBe('cli_twice');
  });

  it('--local --connect reaches an in-cluster host through a forwarded address', async () => {
    const host = 'database.tasks-test-database.svc.cluster.local';
    const { arn } = await fx.createAppSecret('tasks/test/db-app-cli-connect', 'cli_connect', { host });
    const connect = `127.0.0.1:${fx.cluster.port}`;
    const direct = await cli('scripts/rotate.ts', ['--secret-id', arn, '--local', '--yes']);
    expect(direct.code).toBe(1);
    expect(direct.stderr).toContain(`setSecret failed: cannot connect as cli_connect_clone@${host}`);
    expect(direct.stderr).toContain('AWSCURRENT is unchanged');

    const forwarded = await cli('scripts/rotate.ts', ['--secret-id', arn, '--local', '--yes', '--connect', connect]);
    expect(forwarded.stderr).toBe('');
    expect(forwarded.code).toBe(0);
    expect(forwarded.stdout).toContain(`database   reached through ${connect}`);
    expect(forwarded.stdout).toContain('plan       resume the unfinished rotation of version');
    const after = await current(arn);
    expect(after).toMatchObject({ host, username: 'cli_connect_clone' });
    expect(await loginAs({ ...after, host: '127.0.0.1' })).toBe('cli_connect_clone');
  });

  it('starts a rotation with RotateSecret and follows it to AWSCURRENT', async () => {
    const { arn } = await fx.createAppSecret('tasks/test/db-app-cli-service', 'cli_service');
    // Turn rotation on first, as secrets:bootstrap would.
    await fx.client.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: ROTATION_FUNCTION_ARN, RotateImmediately: false }));
    const run = await cli('scripts/rotate.ts', ['--secret-id', arn, '--yes', '--poll', '0.1', '--timeout', '30']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const after = await current(arn);
    expect(run.stdout).toMatch(new RegExp(`RotateSecret accepted: new version ${after.versionId}`));
    expect(run.stdout).toContain(`rotated: AWSCURRENT is ${after.versionId}`);
    expect(after.username).toBe('cli_service_clone');
    expect(await loginAs(after)).toBe('cli_service_clone');
  });

  it('reports a rotation that does not finish, with AWSCURRENT unchanged', async () => {
    const { arn, value } = await fx.createAppSecret('tasks/test/db-app-cli-stuck', 'cli_stuck');
    const broken = 'arn:aws:lambda:us-east-1:123456789012:function:rotate-broken';
    fx.sm.registerRotationFunction(broken, async (event) => {
      if (event.Step === 'setSecret') throw new Error('database unreachable');
    });
    await fx.client.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: broken, RotateImmediately: false }));
    const run = await cli('scripts/rotate.ts', ['--secret-id', arn, '--yes', '--poll', '0.1', '--timeout', '1']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/rotation running: \S+ is AWSPENDING/);
    expect(run.stderr).toContain('rotation has not finished after 1s');
    expect(run.stderr).toContain(`check the rotation function's logs (${broken})`);
    expect((await current(arn)).password).toBe(value.password);
  });

  it('changes nothing when the answer is no, and explains what is missing', async () => {
    const { arn, value } = await fx.createAppSecret('tasks/test/db-app-cli-no', 'cli_no');
    const callsBefore = fx.sm.calls.length;
    const declined = await cli('scripts/rotate.ts', ['--secret-id', arn, '--local'], 'n\n');
    expect(declined.code).toBe(1);
    expect(declined.stdout).toContain('plan       run createSecret, setSecret, testSecret, finishSecret');
    expect(declined.stdout).toContain('aborted: nothing changed');
    expect((await current(arn)).password).toBe(value.password);

    const unconfigured = await cli('scripts/rotate.ts', ['--secret-id', arn, '--yes']);
    expect(unconfigured.code).toBe(2);
    expect(unconfigured.stderr).toContain('rotation is not configured for this secret');

    const badArgs = await cli('scripts/rotate.ts', ['--secret-id', arn, '--timeout', 'soon']);
    expect(badArgs.code).toBe(2);
    expect(badArgs.stderr).toContain('--timeout must be a positive number of seconds');
    // Only reads reached Secrets Manager.
    const writes = ['RotateSecret', 'PutSecretValue', 'UpdateSecretVersionStage', 'CreateSecret', 'GetRandomPassword'];
    expect(fx.sm.calls.slice(callsBefore).filter((op) => writes.includes(op))).toEqual([]);
    expect(fx.sm.calls.slice(callsBefore)).toContain('DescribeSecret');
  });
});

describe('npm run secrets:bootstrap', () => {
  it('creates the three secrets with random values, once, and turns rotation on', async () => {
    const declined = await cli('scripts/secrets-bootstrap.ts', ['--env', 'dev'], 'no\n');
    expect(declined.code).toBe(1);
    expect(declined.stdout).toContain('tasks/dev/db-app             create: user tasks_app, random password, masterarn -> tasks/dev/db-admin');
    const callsBefore = fx.sm.calls.length;

    const first = await cli('scripts/secrets-bootstrap.ts', ['--env', 'dev', '--yes']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(fx.sm.calls.slice(callsBefore).filter((c) => c === 'CreateSecret')).toHaveLength(3);
    const admin = await fx.client.send(new DescribeSecretCommand({ SecretId: 'tasks/dev/db-admin' }));
    const app = await current('tasks/dev/db-app');
    expect(app).toMatchObject({
      engine: 'postgres',
      host: 'database.tasks-dev-database.svc.cluster.local',
      port: 5432,
      dbname: 'tasks',
      username: 'tasks_app',
      masterarn: admin.ARN,
    });
    expect(app.password).toHaveLength(32);
    const token = JSON.parse((await fx.client.send(new GetSecretValueCommand({ SecretId: 'tasks/dev/internal-token' }))).SecretString!);
    expect(token.token).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(first.stdout).not.toContain(app.password);
    expect(first.stdout).not.toContain(token.token);
    // ESO reads the token's AWSPREVIOUS stage too: bootstrap gives it one, with the same token.
    const previous = JSON.parse(
      (await fx.client.send(new GetSecretValueCommand({ SecretId: 'tasks/dev/internal-token', VersionStage: 'AWSPREVIOUS' }))).SecretString!,
    );
    expect(previous.token).toBe(token.token);

    const again = await cli('scripts/secrets-bootstrap.ts', ['--env', 'dev', '--yes']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing to do');
    expect((await current('tasks/dev/db-app')).password).toBe(app.password);

    const withRotation = ['--env', 'dev', '--yes', '--rotation-lambda-arn', ROTATION_FUNCTION_ARN, '--rotation-days', '7'];
    const rotationOn = await cli('scripts/secrets-bootstrap.ts', withRotation);
    expect(rotationOn.code).toBe(0);
    for (const name of ['tasks/dev/db-app', 'tasks/dev/internal-token']) {
      expect(rotationOn.stdout).toContain(`rotation on for ${name}: rate(7 days)`);
      const described = await fx.client.send(new DescribeSecretCommand({ SecretId: name }));
      expect(described).toMatchObject({ RotationEnabled: true, RotationLambdaARN: ROTATION_FUNCTION_ARN, RotationRules: { ScheduleExpression: 'rate(7 days)' } });
    }
    expect((await current('tasks/dev/db-app')).password).toBe(app.password);
    expect((await cli('scripts/secrets-bootstrap.ts', withRotation)).stdout).toContain('nothing to do');

    // The internal token rotates through the same contract; --local needs no database.
    const rotated = await cli('scripts/rotate.ts', ['--secret-id', 'tasks/dev/internal-token', '--local', '--force', '--yes']);
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain('(a new random token)');
    const stage = async (VersionStage: string) =>
      JSON.parse((await fx.client.send(new GetSecretValueCommand({ SecretId: 'tasks/dev/internal-token', VersionStage }))).SecretString!).token as string;
    const newToken = await stage('AWSCURRENT');
    expect(newToken).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(newToken).not.toBe(token.token);
    expect(await stage('AWSPREVIOUS')).toBe(token.token);
    expect(rotated.stdout).not.toContain(newToken);
    expect(rotated.stdout).not.toContain(token.token);

    const badEnv = await cli('scripts/secrets-bootstrap.ts', ['--env', 'staging', '--yes']);
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('unknown environment "staging"');
  });
});
