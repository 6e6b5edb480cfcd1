import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseSteps } from '../functions/rotate-secrets/database-steps';
import { createRotationHandler } from '../functions/rotate-secrets/handler';
import { rotateLocally } from '../functions/rotate-secrets/local';
import type { RotationEvent } from '../functions/rotate-secrets/protocol';
import { loginAs, ROTATION_FUNCTION_ARN, startRotationFixture, type DbSecretValue, type RotationFixture } from './support/rotation-fixture';

// The rotation function against a real SCRAM-only PostgreSQL and the local Secrets Manager stand-in.
let fx: RotationFixture;
const logs: string[] = [];
let handler: (event: RotationEvent) => Promise<void>;

beforeAll(async () => {
  fx = await startRotationFixture();
  const log = (message: string, fields?: Record<string, unknown>) => logs.push(JSON.stringify({ message, ...fields }));
  handler = createRotationHandler({ client: fx.client, log });
  fx.sm.registerRotationFunction(ROTATION_FUNCTION_ARN, handler);
});
afterAll(async () => {
  await fx?.stop();
});

async function secretAt(secretId: string, stage = 'AWSCURRENT'): Promise<DbSecretValue & { versionId: string }> {
  const out = await fx.client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }));
  return { ...(JSON.parse(out.SecretString!) as DbSecretValue), versionId: out.VersionId! };
}

async function rotateWithService(secretId: string) {
  const { VersionId } = await fx.client.send(
    new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: ROTATION_FUNCTION_ARN, RotationRules: { AutomaticallyAfterDays: 30 } }),
  );
  const run = fx.sm.rotations.find((r) => r.versionId === VersionId)!;
  await run.done;
  return run;
}

/** Turns rotation on without rotating, so handler steps can be invoked one by one. */
async function enableRotation(secretId: string) {
  await fx.client.send(new RotateSecretCommand({ SecretId: secretId, RotationLambdaARN: ROTATION_FUNCTION_ARN, RotateImmediately: false }));
}

describe('rotation with alternating users', () => {
  it('runs the four steps through RotateSecret: the clone gets a new password and becomes AWSCURRENT', async () => {
    const { arn, value: original } = await fx.createAppSecret('tasks/test/db-app-full', 'app_full');
    const run = await rotateWithService(arn);
    expect(run.error).toBeUndefined();
    expect(run.stepsCompleted).toEqual(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);

    const current = await secretAt(arn);
    const previous = await secretAt(arn, 'AWSPREVIOUS');
    expect(current.versionId).toBe(run.versionId);
    expect(current.username).toBe('app_full_clone');
    expect(current.password).not.toBe(original.password);
    expect(current.password).toHaveLength(32);
    expect(current.password).not.toMatch(/[:/@"'\\]/);
    expect({ ...current, username: 'x', password: 'x', versionId: 'x' }).toEqual({ ...original, username: 'x', password: 'x', versionId: 'x' });
    expect(previous.username).toBe('app_full');
    expect(fx.sm.stages(arn)).toEqual({ [previous.versionId]: ['AWSPREVIOUS'], [current.versionId]: ['AWSCURRENT'] });

    // Both users work: pods still holding the previous pair keep working until the next rotation.
    expect(await loginAs(current)).toBe('app_full_clone');
    expect(await loginAs(original)).toBe('app_full');
    // The clone inherits the app role's grants (and nothing more).
    const inherited = await fx.adminQuery<{ ok: boolean }>("SELECT has_table_privilege('app_full_clone', 'tasks', 'INSERT') AS ok");
    expect(inherited.rows[0]!.ok).toBe(true);
    const superuser = await fx.adminQuery<{ rolsuper: boolean }>("SELECT rolsuper FROM pg_roles WHERE rolname = 'app_full_clone'");
    expect(superuser.rows[0]!.rolsuper).toBe(false);
    expect(logs.join('\n')).not.toContain(current.password);
  });

  it('stores a SCRAM verifier, never the plain password, in PostgreSQL', async () => {
    const { arn } = await fx.createAppSecret('tasks/test/db-app-scram', 'app_scram');
    await rotateWithService(arn);
    const { rows } = await fx.adminQuery<{ rolpassword: string }>("SELECT rolpassword FROM pg_authid WHERE rolname = 'app_scram_clone'");
    expect(rows[0]!.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(rows[0]!.rolpassword).not.toContain((await secretAt(arn)).password);
  });

  it('can run every step twice without changing the outcome', async () => {
    const { arn, value: original } = await fx.createAppSecret('tasks/test/db-app-rerun', 'app_rerun');
    await enableRotation(arn);
    const token = randomUUID();
    // The service's part: the pending version exists before the handler runs.
    await databaseSteps({ client: fx.client, log: () => {} }).createSecret(arn, token);
    const pending = await secretAt(arn, 'AWSPENDING');

    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
      await handler({ Step: step, SecretId: arn, ClientRequestToken: token });
      await handler({ Step: step, SecretId: arn, ClientRequestToken: token });
    }
    // The re-run createSecret kept the first password; the re-run setSecret did not change it again.
    const current = await secretAt(arn);
    expect(current.versionId).toBe(token);
    expect(current.password).toBe(pending.password);
    expect(await loginAs(current)).toBe('app_rerun_clone');
    expect(await loginAs(original)).toBe('app_rerun');

    // Once the version is AWSCURRENT every step is a no-op, including a late retry of setSecret.
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
      await handler({ Step: step, SecretId: arn, ClientRequestToken: token });
    }
    expect((await secretAt(arn)).versionId).toBe(token);
    expect(logs.some((l) => l.includes('setSecret: pending credentials already work'))).toBe(true);
  });

  it('leaves AWSCURRENT alone when testSecret fails, and the rotation can be resumed', async () => {
    const { arn, value: original } = await fx.createAppSecret('tasks/test/db-app-failtest', 'app_failtest');
    const sabotaged = 'arn:aws:lambda:us-east-1:123456789012:function:rotate-sabotaged';
    // A database change between setSecret and testSecret (here: the clone loses LOGIN) makes the test fail.
    fx.sm.registerRotationFunction(sabotaged, async (event) => {
      if (event.Step === 'testSecret') await fx.adminQuery('ALTER ROLE app_failtest_clone NOLOGIN');
      await handler(event);
    });
    const { VersionId } = await fx.client.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: sabotaged }));
    const run = fx.sm.rotations.find((r) => r.versionId === VersionId)!;
    await run.done;
    expect(run.stepsCompleted).toEqual(['createSecret', 'setSecret']);
    expect(run.error).toMatch(/testSecret: the pending credentials for app_failtest_clone do not work/);

    const current = await secretAt(arn);
    expect(current.password).toBe(original.password);
    expect(current.username).toBe('app_failtest');
    expect(fx.sm.stages(arn)[VersionId!]).toEqual(['AWSPENDING']);
    expect(await loginAs(original)).toBe('app_failtest');

    // Secrets Manager refuses a new rotation while this one is unfinished.
    const refused = await fx.client
      .send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: ROTATION_FUNCTION_ARN }))
      .then(() => 'accepted', (e: Error) => e.name);
    expect(refused).toBe('InvalidRequestException');

    // A local run resumes the same version: setSecret restores LOGIN with the pending password.
    const resumed = await rotateLocally({ client: fx.client, log: () => {} }, arn);
    expect(resumed).toEqual({ versionId: VersionId, resumed: true });
    const after = await secretAt(arn);
    expect(after.versionId).toBe(VersionId);
    expect(await loginAs(after)).toBe('app_failtest_clone');
    expect(fx.sm.stages(arn)[VersionId!]).toEqual(['AWSCURRENT']);
  });

  describe('refuses a forged pending secret', () => {
    async function forgePending(name: string, username: string, change: (v: DbSecretValue) => DbSecretValue) {
      const { arn, value } = await fx.createAppSecret(name, username);
      await enableRotation(arn);
      const token = randomUUID();
      await fx.client.send(
        new PutSecretValueCommand({ SecretId: arn, ClientRequestToken: token, SecretString: JSON.stringify(change(value)), VersionStages: ['AWSPENDING'] }),
      );
      const attempt = handler({ Step: 'setSecret', SecretId: arn, ClientRequestToken: token }).then(() => 'set', (e: Error) => e.message);
      return { arn, value, token, outcome: await attempt };
    }

    it('for a user that is not the alternate of the current user (the master user here)', async () => {
      const { arn, value, token, outcome } = await forgePending('tasks/test/db-app-wronguser', 'app_wronguser', (v) => ({
        ...v,
        username: fx.cluster.user,
        password: 'attacker-chosen-password',
      }));
      expect(outcome).toMatch(/refusing to set user cluster_admin: the pending user must be app_wronguser_clone/);
      expect(outcome).not.toContain('attacker-chosen-password');
      // The superuser's password is unchanged, and so is AWSCURRENT.
      expect(await loginAs({ ...value, dbname: 'postgres', username: fx.cluster.user, password: fx.cluster.password })).toBe(fx.cluster.user);
      expect((await secretAt(arn)).password).toBe(value.password);
      expect((await secretAt(arn)).versionId).not.toBe(token);
    });

    it('for a different host', async () => {
      const { arn, value, outcome } = await forgePending('tasks/test/db-app-wronghost', 'app_wronghost', (v) => ({
        ...v,
        username: 'app_wronghost_clone',
        host: 'db.attacker.example',
      }));
      expect(outcome).toMatch(/refusing to set user app_wronghost_clone on db\.attacker\.example:\d+\/tasks: the current secret points at 127\.0\.0\.1/);
      expect((await fx.adminQuery("SELECT 1 FROM pg_roles WHERE rolname = 'app_wronghost_clone'")).rowCount).toBe(0);
      expect((await secretAt(arn)).password).toBe(value.password);
    });
  });

  it('rotates twice in a row: user → clone → user, and the first password stops working', async () => {
    const { arn, value: original } = await fx.createAppSecret('tasks/test/db-app-twice', 'app_twice');
    const first = await rotateWithService(arn);
    expect(first.error).toBeUndefined();
    const afterFirst = await secretAt(arn);
    expect(afterFirst.username).toBe('app_twice_clone');

    const second = await rotateWithService(arn);
    expect(second.error).toBeUndefined();
    const afterSecond = await secretAt(arn);
    const previous = await secretAt(arn, 'AWSPREVIOUS');
    expect(afterSecond.username).toBe('app_twice');
    expect(afterSecond.password).not.toBe(original.password);
    expect(previous.versionId).toBe(first.versionId);
    expect(Object.keys(fx.sm.stages(arn))).toHaveLength(2);

    expect(await loginAs(afterSecond)).toBe('app_twice');
    expect(await loginAs(afterFirst)).toBe('app_twice_clone');
    expect(await loginAs(original)).toBe('failed:28P01');
  });

  it('rejects events that do not belong to a rotation', async () => {
    const { arn, value } = await fx.createAppSecret('tasks/test/db-app-events', 'app_events');
    const bad = (event: unknown) => handler(event as RotationEvent).then(() => 'ok', (e: Error) => e.message);
    expect(await bad({ Step: 'createSecret', SecretId: arn, ClientRequestToken: randomUUID() })).toMatch(/not enabled for rotation/);
    await enableRotation(arn);
    expect(await bad({ Step: 'setSecret', SecretId: arn, ClientRequestToken: randomUUID() })).toMatch(/has no stage for rotation/);
    expect(await bad({ Step: 'dropDatabase', SecretId: arn, ClientRequestToken: randomUUID() })).toMatch(/invalid rotation event/);
    const current = await secretAt(arn);
    expect(await bad({ Step: 'finishSecret', SecretId: arn, ClientRequestToken: current.versionId })).toBe('ok');
    // A version that carries some other label only is not a rotation in progress.
    const other = randomUUID();
    await fx.client.send(new PutSecretValueCommand({ SecretId: arn, ClientRequestToken: other, SecretString: JSON.stringify(value), VersionStages: ['MANUAL'] }));
    expect(await bad({ Step: 'setSecret', SecretId: arn, ClientRequestToken: other })).toMatch(/not set as AWSPENDING/);
    await fx.client.send(new UpdateSecretVersionStageCommand({ SecretId: arn, VersionStage: 'MANUAL', RemoveFromVersionId: other }));
  });
});
