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

/** IAM condition block: operator → condition key → value(s). */
type Condition = Record<string, Record<string, string | string[]>>;
export interface Statement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  /** Only in resource policies (the bucket policy) and trust policies. */
  Principal?: '*' | { Federated: string };
  Action: string[];
  Resource?: string | string[];
  Condition?: Condition;
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
    ...backupRolePolicies(values),
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

/** The S3 actions the backup code uses for writing (multipart's Create/UploadPart/Complete are s3:PutObject). */
export const backupWriteActions = ['s3:PutObject', 's3:AbortMultipartUpload'];

function backupArns(values: Values) {
  const b = values.backups;
  const { partition } = account(values);
  const bucket = `arn:${partition}:s3:::${b.bucket}`;
  return { bucket, objects: `${bucket}/${b.prefix}/*`, allObjects: `${bucket}/*`, key: b.kmsKeyArn };
}

/**
 * The backup writer (backup CronJob, migration Job) and reader (restore check) roles: objects
 * below this environment's prefix only, never a delete or a retention change (Object Lock and
 * the lifecycle rule expire backups). KMS only through S3 in the values' region.
 */
export function backupRolePolicies(values: Values): Record<string, Policy> {
  const arns = backupArns(values);
  const viaS3: Condition = { StringEquals: { 'kms:ViaService': `s3.${values.secrets.region}.amazonaws.com` } };
  const list: Statement = {
    Sid: 'ListOwnPrefix',
    Effect: 'Allow',
    Action: ['s3:ListBucket'],
    Resource: arns.bucket,
    Condition: { StringLike: { 's3:prefix': [`${values.backups.prefix}/*`] } },
  };
  const read: Statement = { Sid: 'ReadBackups', Effect: 'Allow', Action: ['s3:GetObject'], Resource: arns.objects };
  return {
    'backup-writer.json': {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'WriteNewBackups', Effect: 'Allow', Action: backupWriteActions, Resource: arns.objects },
        read,
        list,
        // GenerateDataKey for each new object (and part); Decrypt to read, and to complete a multipart upload.
        { Sid: 'UseBackupKeyThroughS3', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: arns.key, Condition: viaS3 },
      ],
    },
    'backup-reader.json': {
      Version: '2012-10-17',
      Statement: [read, list, { Sid: 'DecryptThroughS3', Effect: 'Allow', Action: ['kms:Decrypt'], Resource: arns.key, Condition: viaS3 }],
    },
  };
}

/** IRSA trust: the cluster's OIDC provider may hand this role to exactly these ServiceAccounts. */
function irsaTrust(values: Values, serviceAccounts: { sid: string; name: string }[]): Policy {
  const { partition, accountId } = account(values);
  const issuer = values.backups.oidcIssuer;
  return {
    Version: '2012-10-17',
    Statement: serviceAccounts.map(({ sid, name }) => ({
      Sid: sid,
      Effect: 'Allow',
      Principal: { Federated: `arn:${partition}:iam::${accountId}:oidc-provider/${issuer}` },
      Action: ['sts:AssumeRoleWithWebIdentity'],
      Condition: {
        StringEquals: {
          [`${issuer}:sub`]: `system:serviceaccount:${values.namespaces.database}:${name}`,
          [`${issuer}:aud`]: 'sts.amazonaws.com',
        },
      },
    })),
  };
}

/**
 * The backup bucket's policy, its configuration as the aws CLI's put-bucket-* inputs, and the
 * roles' trust policies (secrets/aws/README.md "Backups" says which command takes which file).
 */
export function backupBucketFiles(values: Values): Record<string, unknown> {
  const b = values.backups;
  const arns = backupArns(values);
  const backupRoles = [b.roleArns.writer, b.roleArns.reader];
  const bucketPolicy: Policy = {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: ['s3:*'],
        Resource: [arns.bucket, arns.allObjects],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
      // A put that names an encryption must name SSE-KMS with this key. A put that names none gets
      // the bucket's default (the same key): a deny on the header's absence would also refuse
      // UploadPart and CompleteMultipartUpload, which never carry it.
      {
        Sid: 'DenyOtherEncryption',
        Effect: 'Deny',
        Principal: '*',
        Action: ['s3:PutObject'],
        Resource: arns.allObjects,
        Condition: { StringNotEqualsIfExists: { 's3:x-amz-server-side-encryption': 'aws:kms' } },
      },
      {
        Sid: 'DenyOtherKmsKey',
        Effect: 'Deny',
        Principal: '*',
        Action: ['s3:PutObject'],
        Resource: arns.allObjects,
        Condition: { StringNotEqualsIfExists: { 's3:x-amz-server-side-encryption-aws-kms-key-id': arns.key } },
      },
      // Overwrites refused: PutObject and CompleteMultipartUpload must send If-None-Match (S3 user
      // guide, "Enforce conditional writes"); s3:ObjectCreationOperation is false for
      // CreateMultipartUpload and UploadPart, which take no conditional header.
      {
        Sid: 'DenyWritesWithoutIfNoneMatch',
        Effect: 'Deny',
        Principal: '*',
        Action: ['s3:PutObject'],
        Resource: arns.allObjects,
        Condition: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } },
      },
      {
        Sid: 'DenyDeletesAndRetentionChangesToBackupRoles',
        Effect: 'Deny',
        Principal: '*',
        Action: [
          's3:BypassGovernanceRetention',
          's3:DeleteObject',
          's3:DeleteObjectVersion',
          's3:PutBucketLifecycleConfiguration',
          's3:PutBucketPolicy',
          's3:PutObjectLegalHold',
          's3:PutObjectRetention',
        ],
        Resource: [arns.bucket, arns.allObjects],
        Condition: { ArnEquals: { 'aws:PrincipalArn': backupRoles } },
      },
    ],
  };
  return {
    'backup-bucket-policy.json': bucketPolicy,
    // aws s3api put-bucket-versioning --versioning-configuration
    'backup-bucket-versioning.json': { Status: 'Enabled' },
    // aws s3api put-object-lock-configuration --object-lock-configuration
    'backup-bucket-object-lock.json': {
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: b.objectLockMode, Days: b.retentionDays } },
    },
    // aws s3api put-bucket-lifecycle-configuration --lifecycle-configuration
    'backup-bucket-lifecycle.json': {
      Rules: [
        {
          ID: 'expire-backups',
          Filter: { Prefix: `${b.prefix}/` },
          Status: 'Enabled',
          // Retention ends on the same day the lock does; the old version then goes a day later.
          Expiration: { Days: b.retentionDays },
          NoncurrentVersionExpiration: { NoncurrentDays: 1 },
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
        },
      ],
    },
    // aws s3api put-bucket-encryption --server-side-encryption-configuration
    'backup-bucket-encryption.json': {
      Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: arns.key }, BucketKeyEnabled: true }],
    },
    'backup-writer-trust.json': irsaTrust(values, [
      { sid: 'BackupCronJob', name: b.backup.serviceAccountName },
      { sid: 'MigrationJobPreMigrationBackup', name: values.database.migration.serviceAccountName },
    ]),
    'backup-reader-trust.json': irsaTrust(values, [{ sid: 'RestoreCheckCronJob', name: b.restoreCheck.serviceAccountName }]),
  };
}

const here = dirname(fileURLToPath(import.meta.url));

/** File path → JSON text, for every environment. */
export function renderPolicies(): Map<string, string> {
  const out = new Map<string, string>();
  for (const env of environments) {
    const values = loadValues(env);
    for (const [file, policy] of Object.entries({ ...policiesFor(values), ...backupBucketFiles(values) })) {
      out.set(join(here, env, file), `${JSON.stringify(policy, null, 2)}\n`);
    }
  }
  return out;
}
