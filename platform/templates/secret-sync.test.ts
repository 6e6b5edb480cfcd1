// Render checks for the secret sync: each namespace gets exactly the Secrets its workloads read,
// from its own store and IAM role, with nothing pointing across namespaces and no secret value
// in any manifest.
import { describe, expect, it } from 'vitest';
import { awsSecretName, environments, loadValues } from '../values';
import { renderEnvironment } from '../render';
import { objectsOf, podTemplates, secretsReferenced, type K8sObject } from '../inspect';
import { syncedSecrets } from '../layout';

interface ExternalSecretSpec {
  refreshInterval: string;
  secretStoreRef: { kind: string; name: string };
  target: { name: string; creationPolicy: string; deletionPolicy: string; template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } } };
  data: { secretKey: string; remoteRef: { key: string; property: string } }[];
  dataFrom?: unknown;
}
interface SecretStoreSpec {
  provider: { aws: { service: string; region: string; auth: { jwt: { serviceAccountRef: { name: string; namespace?: string } } } } };
}

describe.each(environments)('secret sync (%s)', (env) => {
  const values = loadValues(env);
  const files = renderEnvironment(env);
  const objects = objectsOf(files);
  const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const externalSecrets = ofKind('ExternalSecret') as (K8sObject & { spec: ExternalSecretSpec })[];
  const stores = ofKind('SecretStore') as (K8sObject & { spec: SecretStoreSpec })[];

  it('syncs into each namespace exactly the Secrets its workloads read', () => {
    for (const [tier, ns] of Object.entries(values.namespaces)) {
      const synced = externalSecrets.filter((e) => e.metadata.namespace === ns).map((e) => e.spec.target.name).sort();
      const read = [...new Set(podTemplates(objects).filter((p) => p.namespace === ns).flatMap(secretsReferenced))].sort();
      expect(synced, tier).toEqual(read);
    }
    expect(externalSecrets.map((e) => `${e.metadata.namespace}/${e.spec.target.name}`).sort()).toEqual(
      [
        `${values.namespaces.database}/postgres-admin`,
        `${values.namespaces.database}/tasks-app-credentials`,
        `${values.namespaces.backend}/database-credentials`,
        `${values.namespaces.backend}/internal-token`,
        `${values.namespaces.frontend}/internal-token`,
      ].sort(),
    );
  });

  it('reads each namespace only the AWS secrets its role is meant for', () => {
    const keysIn = (ns: string) =>
      [...new Set(externalSecrets.filter((e) => e.metadata.namespace === ns).flatMap((e) => e.spec.data.map((d) => d.remoteRef.key)))].sort();
    expect(keysIn(values.namespaces.database)).toEqual([awsSecretName(values, 'dbAdmin'), awsSecretName(values, 'dbApp')].sort());
    expect(keysIn(values.namespaces.backend)).toEqual([awsSecretName(values, 'dbApp'), awsSecretName(values, 'internalToken')].sort());
    expect(keysIn(values.namespaces.frontend)).toEqual([awsSecretName(values, 'internalToken')]);
    for (const e of externalSecrets) {
      expect(e.spec.data.every((d) => d.remoteRef.key.startsWith(`tasks/${env}/`)), e.metadata.name).toBe(true);
      expect(e.spec.dataFrom, 'every key is listed, so masterarn and friends never reach the cluster').toBeUndefined();
    }
    const backendCreds = externalSecrets.find((e) => e.spec.target.name === values.secrets.kubernetes.databaseCredentials)!;
    expect(backendCreds.spec.data.map((d) => d.secretKey).sort()).toEqual(['dbname', 'host', 'password', 'port', 'username']);
  });

  it('gives both tiers the current token as `token` and the previous one as `previous`, from one AWS secret', () => {
    const tokenSecrets = externalSecrets.filter((e) => e.spec.target.name === values.secrets.kubernetes.internalToken);
    expect(tokenSecrets.map((e) => e.metadata.namespace).sort()).toEqual([values.namespaces.backend, values.namespaces.frontend].sort());
    const key = awsSecretName(values, 'internalToken');
    for (const e of tokenSecrets) {
      expect(e.spec.data, e.metadata.namespace).toEqual([
        { secretKey: values.secrets.internalTokenKey, remoteRef: { key, property: 'token' } },
        { secretKey: 'previous', remoteRef: { key, property: 'token', version: 'AWSPREVIOUS' } },
      ]);
    }
  });

  it('has no cross-namespace reference: own store, own ServiceAccount, own IAM role', () => {
    for (const [tier, ns] of Object.entries(values.namespaces) as [keyof typeof values.namespaces, string][]) {
      const store = stores.filter((s) => s.metadata.namespace === ns);
      expect(store, ns).toHaveLength(1);
      const aws = store[0]!.spec.provider.aws;
      expect(aws).toMatchObject({ service: 'SecretsManager', region: values.secrets.region });
      expect(aws.auth.jwt.serviceAccountRef.namespace).toBeUndefined();
      const sa = ofKind('ServiceAccount').find(
        (o) => o.metadata.namespace === ns && o.metadata.name === aws.auth.jwt.serviceAccountRef.name,
      );
      expect(sa?.metadata.annotations?.['eks.amazonaws.com/role-arn'], ns).toBe(values.secrets.roleArns[tier]);
      for (const e of externalSecrets.filter((x) => x.metadata.namespace === ns)) {
        expect(e.spec.secretStoreRef).toEqual({ kind: 'SecretStore', name: store[0]!.metadata.name });
      }
    }
    expect(new Set(Object.values(values.secrets.roleArns)).size).toBe(3);
    expect(ofKind('ClusterSecretStore')).toEqual([]);
    expect(ofKind('ClusterExternalSecret')).toEqual([]);
  });

  it('writes out refreshInterval, creationPolicy Orphan and deletionPolicy Retain: a pruned ExternalSecret leaves the Secret', () => {
    for (const e of externalSecrets) {
      expect(e.spec.refreshInterval).toBe(values.secrets.refreshInterval);
      // Owner would set an ownerReference and the garbage collector would delete the mounted Secret
      // with its ExternalSecret; Merge needs the Secret to exist first (secrets/README.md, Lifecycle).
      expect(e.spec.target).toMatchObject({ creationPolicy: 'Orphan', deletionPolicy: 'Retain' });
      expect(e.apiVersion).toBe('external-secrets.io/v1');
    }
  });

  it("gives each Secret its own labels, never the ExternalSecret's (which carry Argo CD's tracking)", () => {
    for (const e of externalSecrets) {
      const metadata = e.spec.target.template?.metadata;
      expect(metadata, e.metadata.name).toEqual({
        labels: { ...e.metadata.labels, 'app.kubernetes.io/name': e.spec.target.name },
        annotations: {},
      });
      // Without data in the template ESO writes the fetched keys as they are.
      expect(Object.keys(e.spec.target.template ?? {})).toEqual(['metadata']);
    }
  });

  it('carries no base64 blob or Secret data in any manifest', () => {
    // A base64 blob: a long run of the base64 alphabet mixing cases and digits, or padded with '='.
    // A padded one is a whole number of 4-character groups, the last ending in = or ==.
    const blob =
      /(?<![A-Za-z0-9+/])(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[0-9])[A-Za-z0-9+/]{16,}={0,2}|(?<![A-Za-z0-9+/])(?:[A-Za-z0-9+/]{4}){2,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)(?![A-Za-z0-9+/=])/;
    // The detector must catch what a Secret's data looks like.
    expect(blob.test(`password: ${Buffer.from('example-value-1').toString('base64')}`)).toBe(true);
    expect(blob.test(`password: ${Buffer.from('abcdefghijk').toString('base64').toLowerCase()}`)).toBe(true);
    // ... and not a PromQL label matcher (the backup alert rules).
    expect(blob.test('max(kube_cronjob_status_last_successful_time{namespace="database",cronjob="tasks-backup"})')).toBe(false);
    for (const [file, text] of files) {
      expect(text.match(blob)?.[0], file).toBeUndefined();
      expect(text, file).not.toMatch(/^\s*(stringData|binaryData):/m);
    }
  });

  it('matches the consumer table the docs are built from', () => {
    const table = syncedSecrets(values).map((s) => `${values.namespaces[s.tier]}/${s.secretName}`).sort();
    expect(table).toEqual(externalSecrets.map((e) => `${e.metadata.namespace}/${e.spec.target.name}`).sort());
  });
});
