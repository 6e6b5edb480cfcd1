// The ConfigMaps the platform renders must be configurations the API and the web image accept.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../functions/api/config';
import { environments, loadValues } from '../platform/values';
import { apiConfig } from '../platform/templates/api';
import { webConfig } from '../platform/templates/web';
import { apiPodMonitor } from '../platform/observability/api-monitor';
import { renderEnvironment } from '../platform/render';
import { syncedSecrets } from '../platform/layout';
import { parseAllDocuments } from 'yaml';
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';

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

  it("scrapes /metrics with the token the API's own INTERNAL_TOKEN_FILE holds (the current one)", () => {
    const [{ object }] = apiPodMonitor(values);
    object.validate(); // the Prometheus Operator's schema
    const monitor = object.toJSON() as IPodMonitor;
    const credentials = monitor.spec!.podMetricsEndpoints![0]!.authorization!.credentials!;
    // The Secret the API mounts at the directory of INTERNAL_TOKEN_FILE, and the key that file is.
    const file = loadConfig({ ...apiConfig(values), PORT: '8080' }).internalTokenFile!;
    expect(file).toBe(`${values.api.internalTokenMountPath}/${credentials.key}`);
    const service = parseAllDocuments(renderEnvironment(env).get(`platform/rendered/${env}/backend/30-${values.api.serviceName}.yaml`)!)
      .map((d) => d.toJS())
      .find((o) => o.kind === 'Service')!;
    const volumes: { name: string; secret?: { secretName: string } }[] = service.spec.template.spec.volumes;
    const mounts: { name: string; mountPath: string }[] = service.spec.template.spec.containers[0].volumeMounts;
    const volume = mounts.find((m) => m.mountPath === values.api.internalTokenMountPath)!;
    expect(volumes.find((v) => v.name === volume.name)?.secret?.secretName).toBe(credentials.name);
    // In the PodMonitor's namespace, ESO writes that key from AWSCURRENT: the token nginx sends first.
    const synced = syncedSecrets(values).find((s) => s.tier === 'backend' && s.secretName === credentials.name)!;
    expect(monitor.metadata!.namespace).toBe(values.namespaces.backend);
    expect(synced.keys[credentials.key]).toBe('token');
  });

  it('only sets variables the nginx entrypoint reads', () => {
    const entrypoint = readFileSync(new URL('../web/nginx/entrypoint.sh', import.meta.url), 'utf8');
    for (const key of Object.keys(webConfig(values))) expect(entrypoint, key).toContain(key);
  });
});
