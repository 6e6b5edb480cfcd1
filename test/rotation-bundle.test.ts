import { GetSecretValueCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureBundle } from './support/api';
import { loginAs, startRotationFixture, type DbSecretValue, type RotationFixture } from './support/rotation-fixture';

// The Lambda artifact itself: dist/rotate-secrets/index.mjs, copied alone into an empty
// directory (no node_modules, as in Lambda), invoked once per step in a fresh `node` process the
// way the Lambda runtime would call `handler`, configured only through environment variables.
const bundle = fileURLToPath(new URL('../dist/rotate-secrets/index.mjs', import.meta.url));
const LAMBDA_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:tasks-rotate-secrets';
let fx: RotationFixture;
let dir: string;
const invocations: string[] = [];

beforeAll(async () => {
  const [fixture] = await Promise.all([startRotationFixture(), ensureBundle()]);
  fx = fixture;
  dir = mkdtempSync(join(tmpdir(), 'tasks-lambda-'));
  copyFileSync(bundle, join(dir, 'index.mjs'));
  writeFileSync(
    join(dir, 'invoke.mjs'),
    "import { handler } from './index.mjs';\nawait handler(JSON.parse(process.argv[2]));\n",
  );
  fx.sm.registerRotationFunction(LAMBDA_ARN, async (event) => {
    invocations.push(event.Step);
    await promisify(execFile)(process.execPath, ['invoke.mjs', JSON.stringify(event)], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', ...fx.sm.clientEnv(), SECRETS_MANAGER_ENDPOINT: fx.sm.endpoint, NODE_NO_WARNINGS: '1' },
    });
  });
});
afterAll(async () => {
  await fx?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('rotates a secret when Secrets Manager invokes the bundled handler', async () => {
  const { arn, value } = await fx.createAppSecret('tasks/test/db-app-bundle', 'bundle_app');
  const { VersionId } = await fx.client.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: LAMBDA_ARN }));
  const run = fx.sm.rotations.find((r) => r.versionId === VersionId)!;
  await run.done;
  expect(run.error).toBeUndefined();
  expect(invocations).toEqual(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);

  const current = JSON.parse((await fx.client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString!) as DbSecretValue;
  expect(current.username).toBe('bundle_app_clone');
  expect(await loginAs(current)).toBe('bundle_app_clone');
  expect(await loginAs(value)).toBe('bundle_app');
});
