import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { databaseSecretSchema } from '../../functions/rotate-secrets/secret';
import { environments, loadValues } from '../../platform/values';
import { backupBucketFiles, backupRolePolicies, policiesFor, renderPolicies, secretArn, type Policy } from './policies';

describe('committed IAM policies', () => {
  it('match the values (regenerate with: npm run policies)', () => {
    for (const [path, text] of renderPolicies()) expect(readFileSync(path, 'utf8'), path).toBe(text);
  });
});

describe.each(environments)('IAM policies (%s)', (env) => {
  const values = loadValues(env);
  const policies = policiesFor(values);
  const resources = (p: Policy) => p.Statement.flatMap((s) => [s.Resource].flat());
  const actions = (p: Policy) => p.Statement.flatMap((s) => s.Action);

  it('let each namespace role read only its own secrets, and only read them', () => {
    const expected = {
      'eso-database.json': [secretArn(values, 'dbAdmin'), secretArn(values, 'dbApp')],
      'eso-backend.json': [secretArn(values, 'dbApp'), secretArn(values, 'internalToken')],
      'eso-frontend.json': [secretArn(values, 'internalToken')],
    };
    for (const [file, arns] of Object.entries(expected)) {
      expect(actions(policies[file]!), file).toEqual(['secretsmanager:GetSecretValue']);
      expect(resources(policies[file]!).sort(), file).toEqual(arns.sort());
    }
    expect(secretArn(values, 'dbApp')).toMatch(new RegExp(`^arn:aws:secretsmanager:${values.secrets.region}:\\d{12}:secret:tasks/${env}/db-app-\\?{6}$`));
  });

  it('give the rotation function the contract operations on the app secret and the internal token, and a read of the master secret', () => {
    const rotation = policies['rotation-function.json']!;
    const on = (arn: string) => rotation.Statement.filter((s) => [s.Resource].flat().includes(arn)).flatMap((s) => s.Action).sort();
    for (const secret of ['dbApp', 'internalToken'] as const) {
      expect(on(secretArn(values, secret)), secret).toEqual(
        ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'].sort(),
      );
    }
    // The master secret is only read, never rotated by this function.
    expect(on(secretArn(values, 'dbAdmin'))).toEqual(['secretsmanager:GetSecretValue']);
  });

  it('use "*" only where IAM allows nothing narrower, and never a service wildcard', () => {
    const narrowable = (action: string) => action.startsWith('secretsmanager:') && action !== 'secretsmanager:GetRandomPassword';
    for (const [file, policy] of Object.entries(policies)) {
      for (const statement of policy.Statement) {
        expect(statement.Action.every((a) => !a.includes('*')), `${file} ${statement.Sid}`).toBe(true);
        if (statement.Resource === '*') expect(statement.Action.some(narrowable), `${file} ${statement.Sid}`).toBe(false);
      }
    }
  });
});

describe('secret JSON schemas', () => {
  const schema = JSON.parse(readFileSync(new URL('./db-secret.schema.json', import.meta.url), 'utf8')) as {
    required: string[];
    properties: Record<string, unknown>;
  };

  it('describe the same keys the rotation function parses', () => {
    expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(databaseSecretSchema.shape).sort());
    const optional = Object.entries(databaseSecretSchema.shape)
      .filter(([, field]) => field.safeParse(undefined).success)
      .map(([key]) => key);
    expect(schema.required.sort()).toEqual(Object.keys(databaseSecretSchema.shape).filter((k) => !optional.includes(k)).sort());
  });
});

describe.each(environments)('backup policies (%s)', (env) => {
  const values = loadValues(env);
  const b = values.backups;
  const roles = backupRolePolicies(values);
  const files = backupBucketFiles(values);
  const bucket = `arn:aws:s3:::${b.bucket}`;
  const statements = (p: unknown) => (p as Policy).Statement;
  const allActions = (p: unknown) => statements(p).flatMap((s) => s.Action);

  it('let the writer add and read backups below its prefix only, and never delete or change retention', () => {
    const writer = roles['backup-writer.json']!;
    const s3 = writer.Statement.filter((s) => s.Action.some((a) => a.startsWith('s3:')));
    for (const s of s3.filter((x) => x.Action.includes('s3:PutObject') || x.Action.includes('s3:GetObject'))) {
      expect(s.Resource, s.Sid).toBe(`${bucket}/${b.prefix}/*`);
    }
    expect(allActions(writer).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey', 's3:AbortMultipartUpload', 's3:GetObject', 's3:ListBucket', 's3:PutObject'].sort());
    for (const role of Object.values(roles)) {
      for (const action of allActions(role)) expect(action).not.toMatch(/Delete|Retention|LegalHold|Bypass|\*/);
    }
  });

  it('let the reader read and list only', () => {
    expect(allActions(roles['backup-reader.json']).sort()).toEqual(['kms:Decrypt', 's3:GetObject', 's3:ListBucket']);
  });

  it('scope listing by prefix and the key to S3 in the region', () => {
    for (const role of Object.values(roles)) {
      const list = role.Statement.find((s) => s.Action.includes('s3:ListBucket'))!;
      expect(list).toMatchObject({ Resource: bucket, Condition: { StringLike: { 's3:prefix': [`${b.prefix}/*`] } } });
      const kms = role.Statement.find((s) => s.Action.some((a) => a.startsWith('kms:')))!;
      expect(kms).toMatchObject({ Resource: b.kmsKeyArn, Condition: { StringEquals: { 'kms:ViaService': `s3.${values.secrets.region}.amazonaws.com` } } });
    }
    expect(b.prefix).toBe(env);
  });

  it('trust exactly the ServiceAccounts that use each role, through the cluster OIDC provider', () => {
    const trusted = (file: string) =>
      statements(files[file]).map((s) => {
        expect(s.Action).toEqual(['sts:AssumeRoleWithWebIdentity']);
        expect(s.Principal).toEqual({ Federated: `arn:aws:iam::111122223333:oidc-provider/${b.oidcIssuer}` });
        expect(s.Condition!.StringEquals![`${b.oidcIssuer}:aud`]).toBe('sts.amazonaws.com');
        return s.Condition!.StringEquals![`${b.oidcIssuer}:sub`];
      });
    const sa = (name: string) => `system:serviceaccount:${values.namespaces.database}:${name}`;
    expect(trusted('backup-writer-trust.json')).toEqual([sa(b.backup.serviceAccountName), sa(values.database.migration.serviceAccountName)]);
    expect(trusted('backup-reader-trust.json')).toEqual([sa(b.restoreCheck.serviceAccountName)]);
  });

  it('make the bucket refuse plain HTTP, other encryption or keys, overwrites, and deletes by the backup roles', () => {
    const policy = files['backup-bucket-policy.json'] as Policy;
    expect(policy.Statement.every((s) => s.Effect === 'Deny' && s.Principal === '*')).toBe(true);
    const sid = (id: string) => policy.Statement.find((s) => s.Sid === id)!;
    expect(sid('DenyInsecureTransport')).toMatchObject({ Action: ['s3:*'], Resource: [bucket, `${bucket}/*`], Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    expect(sid('DenyOtherEncryption').Condition).toEqual({ StringNotEqualsIfExists: { 's3:x-amz-server-side-encryption': 'aws:kms' } });
    expect(sid('DenyOtherKmsKey').Condition).toEqual({ StringNotEqualsIfExists: { 's3:x-amz-server-side-encryption-aws-kms-key-id': b.kmsKeyArn } });
    expect(sid('DenyWritesWithoutIfNoneMatch')).toMatchObject({
      Action: ['s3:PutObject'],
      Condition: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } },
    });
    const deletes = sid('DenyDeletesAndRetentionChangesToBackupRoles');
    expect(deletes.Action).toEqual(expect.arrayContaining(['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:BypassGovernanceRetention', 's3:PutObjectRetention']));
    expect(deletes.Condition).toEqual({ ArnEquals: { 'aws:PrincipalArn': [b.roleArns.writer, b.roleArns.reader] } });
  });

  it('configure versioning, Object Lock, lifecycle and default encryption as the aws CLI takes them', () => {
    expect(files['backup-bucket-versioning.json']).toEqual({ Status: 'Enabled' });
    expect(files['backup-bucket-object-lock.json']).toEqual({
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: b.objectLockMode, Days: b.retentionDays } },
    });
    const [rule, ...more] = (files['backup-bucket-lifecycle.json'] as { Rules: Record<string, unknown>[] }).Rules;
    expect(more).toEqual([]);
    expect(rule).toEqual({
      ID: 'expire-backups',
      Filter: { Prefix: `${b.prefix}/` },
      Status: 'Enabled',
      Expiration: { Days: b.retentionDays },
      NoncurrentVersionExpiration: { NoncurrentDays: 1 },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
    });
    expect(files['backup-bucket-encryption.json']).toEqual({
      Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: b.kmsKeyArn }, BucketKeyEnabled: true }],
    });
  });
});
