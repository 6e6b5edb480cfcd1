import { mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deepMerge, environments, loadValues, serviceHost, awsSecretName } from './values';

describe('loadValues', () => {
  it.each(environments)('loads and validates %s', (env) => {
    const values = loadValues(env);
    expect(values.environment).toBe(env);
    expect(values.secrets.awsPrefix).toBe(`tasks/${env}`);
    expect(awsSecretName(values, 'dbApp')).toBe(`tasks/${env}/db-app`);
  });

  it('layers the environment file over the base', () => {
    const dev = loadValues('dev');
    const prod = loadValues('prod');
    expect(dev.namespaces.backend).toBe('tasks-dev-backend');
    expect(prod.namespaces.backend).toBe('backend');
    expect(dev.api.autoscaling.maxScale).toBe(3);
    expect(dev.api.autoscaling.target).toBe(prod.api.autoscaling.target); // from the base
    expect(dev.api.env).toMatchObject({ LOG_LEVEL: 'debug', NODE_ENV: 'production' });
    expect(serviceHost(prod, prod.database.serviceName, prod.namespaces.database)).toBe(
      'database.database.svc.cluster.local',
    );
  });

  it('rejects an unknown environment by name', () => {
    expect(() => loadValues('staging')).toThrow('unknown environment "staging": expected one of dev, prod');
  });

  const dir = mkdtempSync(join(tmpdir(), 'values-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names every bad key of a broken environment file', () => {
    copyFileSync(new URL('./values.yaml', import.meta.url), join(dir, 'values.yaml'));
    writeFileSync(
      join(dir, 'values-dev.yaml'),
      'namespaces:\n  backend: Backend_NS\nimages:\n  api:\n    tag: latest\nsurprise: 1\n',
    );
    let message = '';
    try {
      loadValues('dev', dir);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^invalid values for environment "dev":/);
    expect(message).toContain('namespaces.backend: must be a lowercase RFC 1123 name');
    expect(message).toContain('images.api.tag: pin a version');
    expect(message).toMatch(/surprise/);
  });
});

describe('deepMerge', () => {
  it('merges maps and replaces lists and scalars', () => {
    expect(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: 2 })).toEqual({
      a: { b: 1, c: [3] },
      d: 2,
    });
  });
});
