/**
 * Least-privilege IAM policies for each environment, generated from the platform values so they name
 * exactly the secrets the rendered ExternalSecrets read. Committed under secrets/aws/<env>/ (review sees
 * what gets applied); a test fails when they are stale. Regenerate with:
 *
 *   npm run policies
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { awsSecretName, environments, loadValues, type Values } from '../../platform/values';
import { syncedSecrets, tiers, type Tier } from '../../platform/layout';

type AwsSecret = keyof Values['secrets']['aws'];

interface Statement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
}
export interface Policy {
  Version: '2012-10-17';
  Statement: Statement[];
}

/** Account and partition from the ESO role ARNs in the values (arn:<partition>:iam::<account>:role/…). */
function account(values: Values): { partition: string; accountId: string } {
  const match = /^arn:([a-z-]+):iam::(\d{12}):role\//.exec(values.secrets.roleArns.backend);
  if (!match) throw new Error('secrets.roleArns.backend is not an IAM role ARN');
  return { partition: match[1]!, accountId: match[2]! };
}

/** The ARN pattern of one secret: Secrets Manager appends a hyphen and six random characters to the name. */
export function secretArn(values: Values, secret: AwsSecret): string {
  const { partition, accountId } = account(values);
  return `arn:${partition}:secretsmanager:${values.secrets.region}:${accountId}:secret:${awsSecretName(values, secret)}-??????`;
}

/** The AWS secrets a namespace's ExternalSecrets read, from the same table the render uses. */
export function secretsReadBy(values: Values, tier: Tier): AwsSecret[] {
  return [...new Set(syncedSecrets(values).filter((s) => s.tier === tier).map((s) => s.awsSecret))].sort();
}

export function policiesFor(values: Values): Record<string, Policy> {
  const arn = (s: AwsSecret) => secretArn(values, s);
  const eso = (tier: Tier): Policy => ({
    Version: '2012-10-17',
    Statement: [{ Sid: 'ReadOwnSecrets', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: secretsReadBy(values, tier).map(arn) }],
  });
  return {
    ...Object.fromEntries(tiers.map((tier) => [`eso-${tier}.json`, eso(tier)])),
    'rotation-function.json': {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'RotateAppSecretAndInternalToken',
          Effect: 'Allow',
          Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
          Resource: [arn('dbApp'), arn('internalToken')],
        },
        { Sid: 'ReadMasterSecret', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: arn('dbAdmin') },
        // GetRandomPassword acts on no resource; IAM only accepts "*" for it.
        { Sid: 'GeneratePasswords', Effect: 'Allow', Action: ['secretsmanager:GetRandomPassword'], Resource: '*' },
        // The function runs in the cluster's VPC to reach PostgreSQL; Lambda manages its network interfaces.
        {
          Sid: 'RunInVpc',
          Effect: 'Allow',
          Action: ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DetachNetworkInterface'],
          Resource: '*',
        },
      ],
    },
    'operator.json': {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'BootstrapAndRotate',
          Effect: 'Allow',
          Action: [
            'secretsmanager:CreateSecret',
            'secretsmanager:DescribeSecret',
            'secretsmanager:ListSecretVersionIds',
            'secretsmanager:TagResource',
            'secretsmanager:RotateSecret',
          ],
          Resource: (['dbAdmin', 'dbApp', 'internalToken'] as const).map(arn),
        },
        {
          Sid: 'RotateLocally',
          Effect: 'Allow',
          Action: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
          // PutSecretValue on internal-token also lets secrets:bootstrap add its AWSPREVIOUS stage.
          Resource: [arn('dbApp'), arn('internalToken')],
        },
        { Sid: 'ReadMasterSecretForLocalRotation', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: arn('dbAdmin') },
        { Sid: 'GeneratePasswords', Effect: 'Allow', Action: ['secretsmanager:GetRandomPassword'], Resource: '*' },
      ],
    },
  };
}

const here = dirname(fileURLToPath(import.meta.url));

/** File path → JSON text, for every environment. */
export function renderPolicies(): Map<string, string> {
  const out = new Map<string, string>();
  for (const env of environments) {
    for (const [file, policy] of Object.entries(policiesFor(loadValues(env)))) {
      out.set(join(here, env, file), `${JSON.stringify(policy, null, 2)}\n`);
    }
  }
  return out;
}
