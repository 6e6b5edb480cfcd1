// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { runtimeConfig } from './runtime-config';

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('runtimeConfig', () => {
  it('defaults to the same-origin API with both features on', () => {
    expect(runtimeConfig({})).toEqual({
      apiUrl: '/api',
      featureEditTask: true,
      featureDeleteTask: true,
      appVersion: version,
      apiSleeps: false,
      embeddedDatabase: false,
    });
  });

  it('reads every variable', () => {
    expect(
      runtimeConfig({
        API_URL: 'https://tasks.example.com/api',
        FEATURE_EDIT_TASK: 'false',
        FEATURE_DELETE_TASK: 'FALSE',
        APP_VERSION: '2.1.0',
      }),
    ).toEqual({
      apiUrl: 'https://tasks.example.com/api',
      featureEditTask: false,
      featureDeleteTask: false,
      appVersion: '2.1.0',
      apiSleeps: false,
      embeddedDatabase: false,
    });
  });

  it('says the API can sleep only when the host says so (the nginx image writes true)', () => {
    expect(runtimeConfig({}, { apiSleeps: true }).apiSleeps).toBe(true);
  });

  it('says the database is embedded only when the host says so (npm start and npm run dev on PGlite)', () => {
    expect(runtimeConfig({}, { embeddedDatabase: true }).embeddedDatabase).toBe(true);
  });

  it("falls back to package.json's version, whatever npm says", () => {
    expect(runtimeConfig({}).appVersion).toBe(version);
    expect(runtimeConfig({ npm_package_version: '1.4.0' }).appVersion).toBe(version);
  });

  it('rejects a flag outside the accepted spellings, naming the variable', () => {
    expect(() => runtimeConfig({ FEATURE_DELETE_TASK: 'maybe' })).toThrow('FEATURE_DELETE_TASK must be one of true, false, 1, 0, yes, no, on, off (any case)');
  });
});
