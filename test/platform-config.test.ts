// The ConfigMaps the platform renders must be configurations the API and the web image accept.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../functions/api/config';
import { environments, loadValues } from '../platform/values';
import { apiConfig } from '../platform/templates/api';
import { webConfig } from '../platform/templates/web';

describe.each(environments)('rendered configuration (%s)', (env) => {
  const values = loadValues(env);

  it("is accepted by the API's own config loader, as the pod will see it", () => {
    const data = apiConfig(values);
    // Knative sets PORT; the ConfigMap is the rest of the environment.
    const config = loadConfig({ ...data, PORT: '8080' });
    expect(config.driver).toBe('pg');
    expect(config.db.host).toBe(`${values.database.serviceName}.${values.namespaces.database}.svc.cluster.local`);
    expect(config.db.port).toBe(values.database.port);
    expect(config.db.database).toBe(values.database.dbname);
    expect(config.db.credentialsDir).toBe(values.api.credentialsMountPath);
    expect(config.db.user).toBeUndefined(); // the username rotates: it comes from the mounted Secret
    expect(config.db.password).toBeUndefined();
    expect(config.migrateOnStart).toBe(false);
    expect(config.features).toEqual(values.features);
    expect(config.internalTokenFile).toBe(`${values.api.internalTokenMountPath}/token`);
    expect(config.db.poolMax * values.api.autoscaling.maxScale).toBeLessThanOrEqual(90); // of max_connections 100
  });

  it('only sets variables the nginx entrypoint reads', () => {
    const entrypoint = readFileSync(new URL('../web/nginx/entrypoint.sh', import.meta.url), 'utf8');
    for (const key of Object.keys(webConfig(values))) expect(entrypoint, key).toContain(key);
  });
});
