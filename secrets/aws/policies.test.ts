import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { databaseSecretSchema } from '../../functions/rotate-db-credentials/secret';
import { environments, loadValues } from '../../platform/values';
import { policiesFor, renderPolicies, secretArn, type Policy } from './policies';

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
