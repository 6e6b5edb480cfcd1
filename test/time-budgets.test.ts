import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../functions/api/config';
import { environments, loadValues } from '../platform/values';

const root = fileURLToPath(new URL('..', import.meta.url));
const docs = (file: string) =>
  parseAllDocuments(readFileSync(join(root, file), 'utf8')).map((d) => d.toJS() as { kind: string; data?: Record<string, string>; spec?: any });

// Statement timeout < the API's request budget < nginx's proxy timeout < Knative's timeoutSeconds:
// a stall ends in the database (rolled back), then as the API's own 503, never as a proxy's 504.
describe.each(environments)('time budgets in %s', (env) => {
  const values = loadValues(env);
  const t = values.timeouts;
  const api = docs(`platform/rendered/${env}/backend/30-tasks-api.yaml`);
  const web = docs(`platform/rendered/${env}/frontend/30-web.yaml`);
  const apiConfig = api.find((d) => d.kind === 'ConfigMap')!.data!;
  const webConfig = web.find((d) => d.kind === 'ConfigMap')!.data!;
  const knative = api.find((d) => d.kind === 'Service')!;

  it('are ordered in the values', () => {
    expect(t.dbConnectMs + t.dbStatementMs).toBeLessThan(t.apiRequestMs);
    expect(t.apiRequestMs).toBeLessThan(t.nginxSeconds * 1000);
    expect(t.nginxSeconds).toBeLessThan(values.api.timeoutSeconds);
    expect(t.apiRequestMs).toBeLessThan(t.nginxClientSeconds * 1000);
  });

  it('reach the API, nginx and Knative as rendered, in the same order', () => {
    // The API reads its ConfigMap exactly as in the pod; loadConfig refuses a misordered pair.
    const config = loadConfig(apiConfig);
    expect(config.db.statementTimeoutMs).toBe(t.dbStatementMs);
    expect(config.db.connectTimeoutMs).toBe(t.dbConnectMs);
    expect(config.requestTimeoutMs).toBe(t.apiRequestMs);
    // nginx is told the same budget: its entrypoint refuses an API_TIMEOUT at or below it.
    expect(Number(webConfig.REQUEST_TIMEOUT_MS)).toBe(config.requestTimeoutMs);
    const nginxMs = Number(webConfig.API_TIMEOUT) * 1000;
    const knativeMs = Number(knative.spec.template.spec.timeoutSeconds) * 1000;
    expect(config.db.statementTimeoutMs).toBeLessThan(config.requestTimeoutMs);
    expect(config.db.connectTimeoutMs + config.db.statementTimeoutMs).toBeLessThan(config.requestTimeoutMs);
    expect(config.requestTimeoutMs).toBeLessThan(nginxMs);
    expect(nginxMs).toBeLessThan(knativeMs);
    // nginx's wait for a client's body is above the API's budget too: a stalled body of an unkeyed
    // write, which streams to the API, is the API's 408 before nginx would close the connection.
    expect(Number(webConfig.CLIENT_TIMEOUT)).toBe(t.nginxClientSeconds);
    expect(config.requestTimeoutMs).toBeLessThan(Number(webConfig.CLIENT_TIMEOUT) * 1000);
  });
});

describe('time budgets outside the cluster', () => {
  it('nginx reads API_TIMEOUT for its proxy timeouts, and its default stays above the API default', () => {
    const template = readFileSync(join(root, 'web/nginx/nginx.conf.template'), 'utf8');
    expect(template).toMatch(/proxy_read_timeout @@API_TIMEOUT@@s;/);
    const entrypoint = readFileSync(join(root, 'web/nginx/entrypoint.sh'), 'utf8');
    const nginxDefault = Number(/API_TIMEOUT=\$\{API_TIMEOUT:-(\d+)\}/.exec(entrypoint)?.[1]) * 1000;
    expect(loadConfig({}).requestTimeoutMs).toBeLessThan(nginxDefault);
    const clientDefault = Number(/CLIENT_TIMEOUT=\$\{CLIENT_TIMEOUT:-(\d+)\}/.exec(entrypoint)?.[1]) * 1000;
    expect(loadConfig({}).requestTimeoutMs).toBeLessThan(clientDefault);
    // Without REQUEST_TIMEOUT_MS the entrypoint assumes the API's own default.
    expect(Number(/REQUEST_TIMEOUT_MS=\$\{REQUEST_TIMEOUT_MS:-(\d+)\}/.exec(entrypoint)?.[1])).toBe(loadConfig({}).requestTimeoutMs);
  });
});
