import { describe, expect, it } from 'vitest';
import { renderedEnvDir, renderedNetworkPolicies, targetsFor } from './targets';
import { join } from 'node:path';

describe('targetsFor', () => {
  it('takes names from the values of each environment', () => {
    const prod = targetsFor('prod');
    expect(prod.namespaces).toEqual({ database: 'database', backend: 'backend', frontend: 'frontend' });
    expect(prod.api).toEqual({ namespace: 'backend', service: 'tasks-api', configMap: 'tasks-api-config' });
    const dev = targetsFor('dev');
    expect(dev.api.namespace).toBe('tasks-dev-backend');
    expect(dev.secrets.map((s) => `${s.namespace}/${s.secret} ← ${s.awsSecret}`)).toEqual([
      'tasks-dev-database/postgres-admin ← tasks/dev/db-admin',
      'tasks-dev-database/tasks-app-credentials ← tasks/dev/db-app',
      'tasks-dev-backend/database-credentials ← tasks/dev/db-app',
      'tasks-dev-backend/internal-token ← tasks/dev/internal-token',
      'tasks-dev-frontend/internal-token ← tasks/dev/internal-token',
    ]);
    expect(dev.refreshIntervalMs).toBe(60_000);
    expect(dev.manifests.backend).toBe('platform/rendered/dev/backend');
  });

  it('expects the NetworkPolicies the render produced', () => {
    const t = targetsFor('prod');
    for (const tier of ['database', 'backend', 'frontend'] as const) {
      expect(t.networkPolicies[tier]).toContain('default-deny');
      expect(t.networkPolicies[tier]).toContain('allow-dns');
    }
    expect(t.networkPolicies.backend).toEqual(renderedNetworkPolicies(join(renderedEnvDir('prod'), 'backend')));
  });

  it('expects no policies where nothing was rendered, and rejects unknown environments', () => {
    expect(renderedNetworkPolicies(renderedEnvDir('nowhere'))).toEqual([]);
    expect(() => targetsFor('staging')).toThrow('unknown environment "staging"');
  });
});
