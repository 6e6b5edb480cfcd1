/**
 * Rotate a secret now: the database credentials (db-app) or the internal token (internal-token).
 *
 *   npm run rotate -- --secret-id tasks/prod/db-app            # RotateSecret; the rotation Lambda does the work
 *   npm run rotate -- --secret-id tasks/prod/db-app --local    # run the four steps from this machine
 *   npm run rotate -- --secret-id tasks/prod/internal-token --local   # no database needed
 *
 * Options: --region, --endpoint (a Secrets Manager endpoint, e.g. a VPC endpoint or a local stand-in),
 * --connect <host:port> (with --local: reach the database there, e.g. through kubectl port-forward,
 * instead of the in-cluster host in the secret), --timeout <seconds> (default 300),
 * --poll <seconds> (default 5), --force (rotate even though the current version is recent), --yes (do not ask).
 * Prints what it will do and asks first. Never prints a secret value.
 */
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { confirm, exitCode, runCommandLine, seconds, UsageError, type CommandArgs } from './ops/cli';
import { parseConnectTo } from '../functions/rotate-secrets/database';
import { rotateLocally } from '../functions/rotate-secrets/local';
import { STEPS, type Step } from '../functions/rotate-secrets/protocol';
import {
  currentKind,
  followRotation,
  startRotation,
  tooSoonToRotate,
  unfinishedVersion,
  type StageChange,
} from '../functions/rotate-secrets/stages';

const USAGE =
  'usage: npm run rotate -- --secret-id <name or ARN> [--local [--connect <host:port>]] [--region <r>] [--endpoint <url>] [--timeout <s>] [--poll <s>] [--force] [--yes]';

const ARGS = {
  'secret-id': { type: 'string' },
  local: { type: 'boolean', default: false },
  connect: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  timeout: { type: 'string', default: '300' },
  poll: { type: 'string', default: '5' },
  force: { type: 'boolean', default: false },
  yes: { type: 'boolean', short: 'y', default: false },
} as const;

function options(values: CommandArgs<typeof ARGS>) {
  const secretId = values['secret-id'];
  if (!secretId) throw new UsageError('--secret-id is required');
  if (values.endpoint && !/^https?:\/\//.test(values.endpoint)) throw new UsageError('--endpoint must be an http(s) URL');
  if (values.connect && !values.local) throw new UsageError('--connect only applies to --local');
  let connectTo;
  try {
    connectTo = parseConnectTo(values.connect);
  } catch (error) {
    throw new UsageError(`--connect: ${(error as Error).message}`);
  }
  return { ...values, secretId, connectTo, timeoutMs: seconds(values.timeout, '--timeout', 300) * 1000, pollMs: seconds(values.poll, '--poll', 5) * 1000 };
}

function stageLines(stages: Record<string, string[]> | undefined): string[] {
  return Object.entries(stages ?? {}).map(([id, labels]) => `    ${id}  ${labels.join(', ')}`);
}

function stageChangeLine(change: StageChange): string {
  switch (change.state) {
    case 'current':
      return `  finishSecret done: ${change.versionId} is AWSCURRENT; ${change.previous ?? 'none'} is AWSPREVIOUS`;
    case 'pending':
      return `  rotation running: ${change.versionId} is AWSPENDING (createSecret, setSecret, testSecret)`;
    default:
      return `  ${change.versionId} has labels: ${change.labels.join(',') || 'none'}`;
  }
}

async function main(args: CommandArgs<typeof ARGS>): Promise<number> {
  const opts = options(args);
  const client = new SecretsManagerClient({ region: opts.region, endpoint: opts.endpoint });
  try {
    const described = await client.send(new DescribeSecretCommand({ SecretId: opts.secretId }));
    console.log(`secret     ${described.Name} (${described.ARN})`);
    console.log(`rotation   ${described.RotationEnabled ? `on, function ${described.RotationLambdaARN}` : 'off'}`);
    console.log('versions');
    for (const line of stageLines(described.VersionIdsToStages)) console.log(line);

    const unfinished = unfinishedVersion(described.VersionIdsToStages);
    if (!unfinished) {
      const tooSoon = await tooSoonToRotate(client, described.ARN!);
      if (tooSoon) {
        if (!opts.force) throw new Error(`${tooSoon}, or pass --force.`);
        console.log(`warning    ${tooSoon} (--force given)`);
      }
    }
    if (opts.local) {
      const needs = (await currentKind(client, described.ARN!, described.Name ?? opts.secretId)) === 'token' ? 'a new random token' : 'needs the database and the master secret';
      console.log(
        unfinished
          ? `plan       resume the unfinished rotation of version ${unfinished} from this machine`
          : `plan       run createSecret, setSecret, testSecret, finishSecret from this machine (${needs})`,
      );
      if (opts.connectTo) console.log(`database   reached through ${opts.connectTo.host}:${opts.connectTo.port}`);
    } else {
      if (!described.RotationLambdaARN) {
        throw new UsageError('rotation is not configured for this secret: use --local, or turn it on with npm run secrets:bootstrap -- --rotation-lambda-arn');
      }
      if (unfinished) {
        throw new Error(`a rotation of version ${unfinished} is unfinished; Secrets Manager retries it. Fix its cause or finish it with --local.`);
      }
      console.log(`plan       RotateSecret: ${described.RotationLambdaARN} runs the four steps`);
    }
    if (!opts.yes && !(await confirm('Proceed?'))) {
      console.log('aborted: nothing changed');
      return exitCode.problems;
    }

    if (opts.local) {
      const started = Date.now();
      let current: Step = 'createSecret';
      try {
        const result = await rotateLocally({ client, connectTo: opts.connectTo, log: () => {} }, described.ARN!, (step, versionId) => {
          console.log(`  ${step} done (version ${versionId})`);
          current = STEPS[STEPS.indexOf(step) + 1] ?? step;
        });
        console.log(`rotated: AWSCURRENT is ${result.versionId} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
      } catch (error) {
        throw new Error(`${current} failed: ${(error as Error).message}. AWSCURRENT is unchanged unless finishSecret ran; run again to resume.`);
      }
      return exitCode.ok;
    }
    const versionId = await startRotation(client, described.ARN!);
    console.log(`  RotateSecret accepted: new version ${versionId}`);
    await followRotation(client, described.ARN!, versionId, { timeoutMs: opts.timeoutMs, pollMs: opts.pollMs, report: (change) => console.log(stageChangeLine(change)) });
    console.log(`rotated: AWSCURRENT is ${versionId}`);
    return exitCode.ok;
  } finally {
    client.destroy();
  }
}

runCommandLine({ name: 'rotate', flags: ARGS, help: USAGE, usage: USAGE }, main);
