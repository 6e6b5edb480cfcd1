/**
 * Create an environment's secrets in AWS Secrets Manager, and turn on rotation for the app's
 * database credentials and the internal token.
 *
 *   npm run secrets:bootstrap -- --env dev
 *   npm run secrets:bootstrap -- --env dev --rotation-lambda-arn arn:aws:lambda:…:function:tasks-rotate-secrets
 *
 * Names, region, database host, port and name come from platform/values*.yaml, so they match what
 * External Secrets reads. Passwords come from GetRandomPassword and are never printed. Safe to run
 * again: existing secrets are left as they are (their values are never overwritten). The internal
 * token gets an AWSPREVIOUS stage (its own value again) when it has none, because ESO reads it.
 * Options: --app-user (default tasks_app), --admin-user (default postgres), --kms-key-id, --region,
 * --endpoint, --rotation-lambda-arn, --rotation-days (default secrets.rotationDays of the values,
 * checked against the timing rule), --yes.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { confirm, exitCode, runCommandLine, UsageError, type CommandArgs } from './ops/cli';
import {
  applyBootstrap,
  planBootstrap,
  ROTATED_KEYS,
  type BootstrapInput,
  type BootstrapStep,
  type SecretKey,
} from '../functions/rotate-secrets/bootstrap';
import { awsSecretName, loadValues, serviceHost } from '../platform/values';
import { CLONE_SUFFIX, ROLE_NAME_MAX, ROLE_NAME_PATTERN } from '../functions/api/db/postgres-roles';
import { checkRotationTiming } from '../platform/rotation-timing';

const USAGE =
  'usage: npm run secrets:bootstrap -- --env <dev|prod> [--app-user tasks_app] [--admin-user postgres] [--kms-key-id <id>] ' +
  '[--rotation-lambda-arn <arn>] [--rotation-days <n>] [--region <r>] [--endpoint <url>] [--yes]';

const ARGS = {
  env: { type: 'string' },
  'app-user': { type: 'string', default: 'tasks_app' },
  'admin-user': { type: 'string', default: 'postgres' },
  'kms-key-id': { type: 'string' },
  'rotation-lambda-arn': { type: 'string' },
  'rotation-days': { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  yes: { type: 'boolean', short: 'y', default: false },
} as const;

function options(values: CommandArgs<typeof ARGS>) {
  if (!values.env) throw new UsageError('--env is required');
  for (const key of ['app-user', 'admin-user'] as const) {
    const longest = ROLE_NAME_MAX - CLONE_SUFFIX.length;
    if (!ROLE_NAME_PATTERN.test(values[key]) || values[key].length > longest) {
      throw new UsageError(`--${key} must be a lower-case PostgreSQL role name of at most ${longest} characters (its ${CLONE_SUFFIX} must fit in ${ROLE_NAME_MAX})`);
    }
  }
  const days = values['rotation-days'] === undefined ? undefined : Number(values['rotation-days']);
  if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 1000)) throw new UsageError('--rotation-days must be a whole number from 1 to 1000');
  const lambdaArn = values['rotation-lambda-arn'];
  if (lambdaArn && !/^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[\w-]+(:[\w$-]+)?$/.test(lambdaArn)) {
    throw new UsageError('--rotation-lambda-arn must be a Lambda function ARN');
  }
  if (values.endpoint && !/^https?:\/\//.test(values.endpoint)) throw new UsageError('--endpoint must be an http(s) URL');
  return { ...values, env: values.env, days, lambdaArn };
}

function stepLine(step: BootstrapStep): string {
  switch (step.step) {
    case 'created':
      return `  created ${step.name} (${step.arn})`;
    case 'previous-added':
      return `  ${step.name}: AWSPREVIOUS added (same token)`;
    case 'rotation-on':
      return `  rotation on for ${step.name}: ${step.schedule}`;
  }
}

async function main(args: CommandArgs<typeof ARGS>): Promise<number> {
  const opts = options(args);
  let values;
  try {
    values = loadValues(opts.env);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const days = opts.days ?? values.secrets.rotationDays;
  try {
    checkRotationTiming(values, days);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const region = opts.region ?? values.secrets.region;
  const client = new SecretsManagerClient({ region, endpoint: opts.endpoint });
  const input: BootstrapInput = {
    names: {
      admin: awsSecretName(values, 'dbAdmin'),
      app: awsSecretName(values, 'dbApp'),
      token: awsSecretName(values, 'internalToken'),
    },
    database: {
      engine: 'postgres',
      host: serviceHost(values, values.database.serviceName, values.namespaces.database),
      port: values.database.port,
      dbname: values.database.dbname,
    },
    adminUser: opts['admin-user'],
    appUser: opts['app-user'],
    kmsKeyId: opts['kms-key-id'],
    tags: [
      { Key: 'app.kubernetes.io/part-of', Value: values.project },
      { Key: 'environment', Value: opts.env },
    ],
    rotationLambdaArn: opts.lambdaArn,
    rotationDays: days,
  };
  const { names, database } = input;

  try {
    const plan = await planBootstrap(client, input);
    const { existing } = plan;
    console.log(`environment ${opts.env}, region ${region}, database ${database.host}:${database.port}/${database.dbname}`);
    const planLine = (key: SecretKey, what: string) =>
      console.log(`  ${names[key].padEnd(28)} ${existing[key] ? 'exists: left unchanged' : `create: ${what}`}`);
    planLine('admin', `user ${input.adminUser}, random password`);
    planLine('app', `user ${input.appUser}, random password, masterarn -> ${names.admin}`);
    planLine('token', 'random internal token');
    if (plan.tokenNeedsPrevious) console.log(`  ${names.token.padEnd(28)} AWSPREVIOUS: add (the current token again; ESO reads both stages)`);
    for (const key of ROTATED_KEYS) {
      const current = existing[key];
      if (opts.lambdaArn) {
        console.log(
          `  ${names[key].padEnd(28)} rotation: ${plan.rotationUnchanged[key] ? 'already on, unchanged' : `every ${days} days by ${opts.lambdaArn} (first run on schedule)`}`,
        );
      } else {
        console.log(`  ${names[key].padEnd(28)} rotation: ${current?.RotationEnabled ? `on (${current.RotationLambdaARN}), unchanged` : 'off (pass --rotation-lambda-arn to turn it on)'}`);
      }
    }
    if (plan.nothingToDo) {
      console.log('nothing to do');
      return exitCode.ok;
    }
    if (!opts.yes && !(await confirm('Proceed?'))) {
      console.log('aborted: nothing changed');
      return exitCode.problems;
    }
    await applyBootstrap(client, input, plan, (step) => console.log(stepLine(step)));
    console.log('done');
    return exitCode.ok;
  } finally {
    client.destroy();
  }
}

runCommandLine({ name: 'secrets:bootstrap', flags: ARGS, help: USAGE, usage: USAGE }, main);
