// Policy checks over the rendered objects of every environment: what a cluster's admission
// (Pod Security, Knative's webhook) and a careful reviewer would reject.
import { describe, expect, it } from 'vitest';
import { environments, loadValues, valuesFiles, type Values } from './values';
import { manifests, renderEnvironment } from './render';
import { isKnativeService, objectsOf, podTemplates, secretsReferenced, type K8sObject, type PodTemplate } from './inspect';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { waves } from './layout';
import { scheduleIntervalSeconds } from './schedule';

const plain = (values: Values): K8sObject[] =>
  [...manifests(values).values()].flatMap((objs) => objs.map((r) => JSON.parse(JSON.stringify(r.object))));

describe.each(environments)('rendered %s', (env) => {
  const values = loadValues(env);
  const objects = objectsOf(renderEnvironment(env));
  const pods = podTemplates(objects);
  const containers = (p: PodTemplate) => [...p.spec.containers, ...(p.spec.initContainers ?? [])];
  const where = (p: PodTemplate) => `${p.owner.kind} ${p.namespace}/${p.owner.metadata.name}`;

  it('renders the workloads the platform needs', () => {
    expect(pods.map(where).sort()).toEqual(
      [
        `Deployment ${values.namespaces.frontend}/${values.web.deploymentName}`,
        `Job ${values.namespaces.database}/${values.database.migration.jobName}`,
        `CronJob ${values.namespaces.database}/${values.backups.backup.cronJobName}`,
        `CronJob ${values.namespaces.database}/${values.backups.restoreCheck.cronJobName}`,
        `Service ${values.namespaces.backend}/${values.api.serviceName}`,
        `StatefulSet ${values.namespaces.database}/${values.database.statefulSetName}`,
      ].sort(),
    );
  });

  it('holds no Secret and no secret data', () => {
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    for (const o of objects) {
      expect(Object.keys(o), `${o.kind} ${o.metadata.name}`).not.toContain('stringData');
      if (o.kind !== 'ConfigMap') expect(Object.keys(o)).not.toContain('data');
    }
  });

  it('creates every Secret a pod reads in the pod namespace, through ESO', () => {
    const synced = new Set(
      objects
        .filter((o) => o.kind === 'ExternalSecret')
        .map((o) => `${o.metadata.namespace}/${(o.spec as { target: { name: string } }).target.name}`),
    );
    const referenced = pods.flatMap((p) => secretsReferenced(p).map((s) => `${p.namespace}/${s}`));
    expect(referenced.length).toBeGreaterThan(0);
    for (const ref of referenced) expect(synced, ref).toContain(ref);
  });

  it('meets Pod Security "restricted" in every pod', () => {
    const allowedVolumes = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
    for (const p of pods) {
      const pod = p.spec.securityContext ?? {};
      for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) expect(p.spec[field], where(p)).not.toBe(true);
      for (const v of p.spec.volumes ?? []) {
        const type = Object.keys(v).find((k) => k !== 'name')!;
        expect(allowedVolumes, `${where(p)} volume ${v.name}`).toContain(type);
      }
      for (const c of containers(p)) {
        const sc = c.securityContext ?? {};
        const at = `${where(p)} container ${c.name}`;
        expect(sc.runAsNonRoot ?? pod.runAsNonRoot, at).toBe(true);
        expect(sc.runAsUser ?? pod.runAsUser ?? 1, at).not.toBe(0);
        expect(sc.privileged ?? false, at).toBe(false);
        expect(sc.allowPrivilegeEscalation, at).toBe(false);
        const caps = (sc.capabilities ?? {}) as { drop?: string[]; add?: string[] };
        expect(caps.drop, at).toContain('ALL');
        expect((caps.add ?? []).filter((cap) => cap !== 'NET_BIND_SERVICE'), at).toEqual([]);
        const seccomp = ((sc.seccompProfile ?? pod.seccompProfile) as { type?: string } | undefined)?.type;
        expect(['RuntimeDefault', 'Localhost'], at).toContain(seccomp);
        expect(sc.readOnlyRootFilesystem, at).toBe(true);
        expect((c.ports ?? []).filter((port) => port.hostPort), at).toEqual([]);
      }
    }
  });

  it('sets cpu and memory requests and limits on every container', () => {
    for (const p of pods) {
      for (const c of containers(p)) {
        for (const kind of ['requests', 'limits'] as const) {
          expect(Object.keys(c.resources?.[kind] ?? {}).sort(), `${where(p)} ${c.name} ${kind}`).toEqual(['cpu', 'memory']);
        }
      }
    }
  });

  it('pins every image to a tag other than latest', () => {
    for (const p of pods) {
      for (const c of containers(p)) {
        const match = /^(?<repo>[^@]+?)(?::(?<tag>[\w][\w.-]{0,127}))?(?:@sha256:[a-f0-9]{64})?$/.exec(c.image ?? '');
        expect(match?.groups?.tag, `${where(p)} image ${c.image}`).toBeDefined();
        expect(match?.groups?.tag).not.toBe('latest');
      }
    }
  });

  it('resolves every service DNS name in ConfigMaps and env to a Service the render defines', () => {
    // The cluster's own platform Services (the Pushgateway) are named in the values, not rendered.
    const p = values.platform.pushgateway;
    const services = new Set([
      ...objects.filter((o) => o.kind === 'Service').map((o) => `${o.metadata.name}.${o.metadata.namespace}`),
      `${p.serviceName}.${p.namespace}`,
    ]);
    const texts = [
      ...objects.filter((o) => o.kind === 'ConfigMap').flatMap((o) => Object.values((o.data ?? {}) as Record<string, string>)),
      ...pods.flatMap((p) => containers(p).flatMap((c) => (c.env ?? []).map((e) => e.value ?? ''))),
    ];
    const names = texts.flatMap((t) => [...t.matchAll(/([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.[a-z.]+)?/g)]);
    expect(names.length).toBeGreaterThanOrEqual(3); // API's DB_HOST, the migration's DB_HOST, nginx's API_UPSTREAM
    for (const [full, svc, ns] of names) {
      expect(full.endsWith(`.svc.${values.clusterDomain}`) || full.endsWith('.svc'), full).toBe(true);
      expect(services, full).toContain(`${svc}.${ns}`);
    }
  });

  describe('the Knative Service', () => {
    const ksvc = objects.find((o) => isKnativeService(o))!;
    const template = (ksvc.spec as { template: { metadata: { annotations: Record<string, string> }; spec: Record<string, unknown> } }).template;
    const pod = pods.find((p) => p.owner === ksvc)!;
    const container = pod.spec.containers[0]!;

    it('is cluster-local and carries autoscaling only on the revision template', () => {
      expect(ksvc.metadata.labels?.['networking.knative.dev/visibility']).toBe('cluster-local');
      expect(Object.keys(ksvc.metadata.annotations ?? {}).filter((k) => k.startsWith('autoscaling.knative.dev/'))).toEqual([]);
      const a = template.metadata.annotations;
      expect(a['autoscaling.knative.dev/min-scale']).toBe(String(values.api.autoscaling.minScale));
      expect(a['autoscaling.knative.dev/max-scale']).toBe(String(values.api.autoscaling.maxScale));
      expect(a['autoscaling.knative.dev/target']).toBe(String(values.api.autoscaling.target));
      expect(a['autoscaling.knative.dev/scale-down-delay']).toBe(values.api.autoscaling.scaleDownDelay);
      expect(values.api.autoscaling.minScale).toBe(0); // scale to zero in every environment
    });

    it('gives the reason beside each autoscaling number', () => {
      const text = [...renderEnvironment(env)].find(([f]) => f.endsWith(`/backend/30-${values.api.serviceName}.yaml`))![1];
      for (const key of ['min-scale', 'max-scale', 'target', 'scale-down-delay']) {
        expect(text, key).toMatch(new RegExp(`autoscaling\\.knative\\.dev/${key}: \\S+ # \\S`));
      }
    });

    it('follows the Knative runtime contract', () => {
      expect(template.spec.containerConcurrency).toBe(0);
      expect(template.spec.timeoutSeconds as number).toBeGreaterThanOrEqual(60); // queue-proxy drains ~30 s
      expect(template.spec.timeoutSeconds as number).toBeLessThanOrEqual(600);
      for (const forbidden of ['securityContext', 'terminationGracePeriodSeconds']) expect(template.spec).not.toHaveProperty(forbidden);
      expect(pod.spec.containers).toHaveLength(1);
      expect(container.ports).toEqual([{ name: 'http1', containerPort: values.api.port }]);
      expect(container).not.toHaveProperty('lifecycle');
      const reserved = ['PORT', 'K_SERVICE', 'K_CONFIGURATION', 'K_REVISION'];
      expect((container.env ?? []).filter((e) => reserved.includes(e.name))).toEqual([]);
      const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === values.api.configMapName)!;
      expect(Object.keys(configMap.data as object).filter((k) => reserved.includes(k))).toEqual([]);
      expect(container.envFrom).toEqual([{ configMapRef: { name: values.api.configMapName } }]);
    });

    it('probes /readyz and /healthz, readiness left to queue-proxy timing', () => {
      expect(container.readinessProbe).toMatchObject({ httpGet: { path: '/readyz' } });
      for (const field of ['periodSeconds', 'failureThreshold', 'timeoutSeconds']) expect(container.readinessProbe).not.toHaveProperty(field);
      expect(container.livenessProbe).toMatchObject({ httpGet: { path: '/healthz' } });
      expect(container.startupProbe).toBeUndefined();
    });

    it('mounts the database credentials as a whole Secret volume, never env or subPath', () => {
      const creds = values.secrets.kubernetes.databaseCredentials;
      const volume = pod.spec.volumes!.find((v) => v.secret?.secretName === creds)!;
      const mount = container.volumeMounts!.find((m) => m.name === volume.name)!;
      expect(mount).toEqual({ name: volume.name, mountPath: values.api.credentialsMountPath, readOnly: true });
      expect((container.env ?? []).filter((e) => e.valueFrom?.secretKeyRef)).toEqual([]);
      const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === values.api.configMapName)!;
      expect((configMap.data as Record<string, string>).DB_CREDENTIALS_DIR).toBe(values.api.credentialsMountPath);
    });

    it('runs under its own ServiceAccount without a token', () => {
      expect(pod.spec.serviceAccountName).toBe(values.api.serviceAccountName);
      expect(pod.spec.automountServiceAccountToken).toBe(false);
      const sa = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === values.api.serviceAccountName)!;
      expect(sa.automountServiceAccountToken).toBe(false);
    });

    it('starts without service-link variables (knative/serving#9104)', () => {
      expect((pod.spec as { enableServiceLinks?: boolean }).enableServiceLinks).toBe(false);
    });
  });

  describe('the backup CronJobs', () => {
    const b = values.backups;
    const cronJobs = objects.filter((o) => o.kind === 'CronJob');
    const byName = (name: string) => cronJobs.find((o) => o.metadata.name === name)!;
    const podOf = (name: string) => pods.find((p) => p.owner === byName(name))!;
    const env = (c: { env?: { name: string; value?: string }[] }) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    const uri = `s3://${b.bucket}/${b.prefix}`;

    it('never overlap, give up on stale runs, and bound each run', () => {
      for (const job of [b.backup, b.restoreCheck]) {
        const spec = byName(job.cronJobName).spec as any;
        expect(spec).toMatchObject({
          schedule: job.schedule,
          timeZone: 'Etc/UTC',
          concurrencyPolicy: 'Forbid',
          startingDeadlineSeconds: job.startingDeadlineSeconds,
          successfulJobsHistoryLimit: job.successfulJobsHistoryLimit,
          failedJobsHistoryLimit: job.failedJobsHistoryLimit,
        });
        expect(spec.jobTemplate.spec).toMatchObject({ backoffLimit: job.backoffLimit, activeDeadlineSeconds: job.activeDeadlineSeconds });
        const pod = podOf(job.cronJobName);
        expect(pod.spec).toMatchObject({ restartPolicy: 'Never', enableServiceLinks: false, automountServiceAccountToken: false, serviceAccountName: job.serviceAccountName });
        expect(pod.labels['app.kubernetes.io/name']).toBe(job.cronJobName);
        for (const c of containers(pod)) expect(c.volumeMounts?.find((m) => m.mountPath === '/tmp'), c.name).toBeDefined();
      }
      // The backup ends before the next one is due, so Forbid never skips a run for a slow one.
      expect(b.backup.activeDeadlineSeconds).toBeLessThan(scheduleIntervalSeconds(b.backup.schedule));
    });

    it('run the API image: the backup as the owner against the real database, with the environment the code reads', () => {
      const [backup] = podOf(b.backup.cronJobName).spec.containers;
      expect(backup!.image).toBe(`${values.images.api.repository}:${values.images.api.tag}`);
      expect(backup!.command).toEqual(['node', '/app/backup.mjs']);
      expect(env(backup!)).toMatchObject({
        DB_HOST: `${values.database.serviceName}.${values.namespaces.database}.svc.${values.clusterDomain}`,
        DB_CREDENTIALS_DIR: '/var/run/secrets/tasks/postgres-admin',
        BACKUP_URI: uri,
        BACKUP_KMS_KEY_ID: b.kmsKeyArn,
        AWS_REGION: values.secrets.region,
      });
      expect(secretsReferenced(podOf(b.backup.cronJobName))).toEqual([values.secrets.kubernetes.postgresAdmin]);
    });

    it('restore into a scratch PostgreSQL of the cluster\'s image in the same pod, never the real one', () => {
      const pod = podOf(b.restoreCheck.cronJobName);
      const [scratch] = pod.spec.initContainers!;
      const [check] = pod.spec.containers;
      expect(scratch).toMatchObject({ restartPolicy: 'Always', image: `${values.images.postgres.repository}:${values.images.postgres.tag}` });
      expect(scratch!.startupProbe).toBeDefined();
      expect(scratch!.readinessProbe).toBeDefined();
      expect((scratch as { args?: string[] }).args).toContain('listen_addresses=127.0.0.1');
      const hba = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === pod.spec.volumes!.find((v) => v.configMap)!.configMap!.name)!;
      const rules = (hba.data as Record<string, string>)['pg_hba.conf']!.split('\n').filter((l) => l && !l.startsWith('#'));
      expect(rules.map((l) => l.split(/\s+/))).toEqual([['local', 'all', 'all', 'trust'], ['host', 'all', 'all', '127.0.0.1/32', 'trust']]);
      const data = pod.spec.volumes!.find((v) => v.name === scratch!.volumeMounts!.find((m) => m.mountPath.startsWith('/var/lib/postgresql'))!.name)!;
      expect(Object.keys(data)).toContain('emptyDir');
      expect(check!.command).toEqual(['node', '/app/restore.mjs', '--from', 'latest', '--check']);
      expect(env(check!)).toMatchObject({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres', BACKUP_URI: uri });
      expect(JSON.stringify(pod.spec)).not.toContain(`${values.database.serviceName}.${values.namespaces.database}`);
      expect(secretsReferenced(pod)).toEqual([]);
    });

    it('write with the writer role and check with the reader role, through IRSA only', () => {
      const roleOf = (sa: string) =>
        objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === sa)!.metadata.annotations?.['eks.amazonaws.com/role-arn'];
      expect(roleOf(b.backup.serviceAccountName)).toBe(b.roleArns.writer);
      expect(roleOf(values.database.migration.serviceAccountName)).toBe(b.roleArns.writer);
      expect(roleOf(b.restoreCheck.serviceAccountName)).toBe(b.roleArns.reader);
      for (const c of pods.flatMap(containers)) {
        expect((c.env ?? []).map((e) => e.name).filter((n) => /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)$/.test(n)), c.name).toEqual([]);
      }
      const migrate = pods.find((p) => p.owner.kind === 'Job')!;
      expect(env(migrate.spec.containers[0]!)).toMatchObject({ BACKUP_URI: uri, BACKUP_KMS_KEY_ID: b.kmsKeyArn, AWS_REGION: values.secrets.region });
    });
  });

  it('keeps the web tier serving through disruptions where values ask for it', () => {
    const deployment = objects.find((o) => o.kind === 'Deployment')!;
    expect((deployment.spec as { replicas: number }).replicas).toBe(values.web.replicas);
    const pdb = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    expect(pdb).toHaveLength(values.web.podDisruptionBudget.enabled ? 1 : 0);
    if (env === 'prod') expect(values.web.replicas).toBe(2);
  });

  it('sizes each quota for the most pods the workloads may run', () => {
    const cpu = (q: string) => (q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q));
    const mem = (q: string) => Number(q.replace(/(Ki|Mi|Gi)$/, '')) * ({ Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[q.slice(-2)] ?? 1);
    const d = values.limitRangeDefaults.limit;
    const fits = (quota: Values['quotas']['backend'], pods: number, limits: { cpu: string; memory: string }[]) => {
      expect(pods, 'pods').toBeLessThanOrEqual(Number(quota.pods));
      expect(pods * limits.reduce((n, l) => n + cpu(l.cpu), 0), 'limits.cpu').toBeLessThanOrEqual(cpu(quota.limitsCpu));
      expect(pods * limits.reduce((n, l) => n + mem(l.memory), 0), 'limits.memory').toBeLessThanOrEqual(mem(quota.limitsMemory));
    };
    // Knative: max-scale pods, each with queue-proxy taking the LimitRange default.
    fits(values.quotas.backend, values.api.autoscaling.maxScale, [values.api.resources.limits, d]);
    // web: replicas plus the one surge pod of a rolling update.
    fits(values.quotas.frontend, values.web.replicas + 1, [values.web.resources.limits]);
    // postgres, a migration, a backup and a restore check (scratch PostgreSQL + the check) at the same time.
    const b = values.backups;
    fits(values.quotas.database, 1, [
      values.database.resources.limits,
      values.database.migration.resources.limits,
      b.backup.resources.limits,
      b.restoreCheck.resources.limits,
      b.restoreCheck.scratchResources.limits,
    ]);
    expect(4, 'pods').toBeLessThanOrEqual(Number(values.quotas.database.pods));
    expect(mem(values.quotas.database.storage!)).toBeGreaterThanOrEqual(mem(values.database.storage.size));
  });

  it('labels every namespace for Pod Security "restricted" and the environment', () => {
    const namespaces = objects.filter((o) => o.kind === 'Namespace');
    expect(namespaces.map((n) => n.metadata.name).sort()).toEqual(Object.values(values.namespaces).sort());
    for (const ns of namespaces) {
      expect(ns.metadata.labels).toMatchObject({
        'pod-security.kubernetes.io/enforce': 'restricted',
        'app.kubernetes.io/environment': env,
      });
      for (const kind of ['ResourceQuota', 'LimitRange']) {
        expect(objects.filter((o) => o.kind === kind && o.metadata.namespace === ns.metadata.name), kind).toHaveLength(1);
      }
    }
    // Deleting the namespace would delete the database volume with it.
    const db = namespaces.find((n) => n.metadata.name === values.namespaces.database)!;
    expect(db.metadata.annotations?.['argocd.argoproj.io/sync-options']).toBe('Prune=false,Delete=false');
  });

  it('orders the Argo CD waves database < backend < frontend, migrations before the API', () => {
    const apps = objects.filter((o) => o.kind === 'Application' && o.metadata.annotations?.['argocd.argoproj.io/sync-wave']);
    const waveOf = (name: string) =>
      Number(apps.find((a) => a.metadata.name === `${values.project}-${env}-${name}`)!.metadata.annotations!['argocd.argoproj.io/sync-wave']);
    expect(waveOf('database')).toBeLessThan(waveOf('backend'));
    expect(waveOf('backend')).toBeLessThan(waveOf('frontend'));
    const backend = apps.find((a) => a.metadata.name === `${values.project}-${env}-backend`)!;
    expect((backend.spec as { source: { directory: { include: string } } }).source.directory.include).toBe(
      '{migrate/*.yaml,backend/*.yaml}',
    );
    const job = objects.find((o) => o.kind === 'Job')!;
    expect(job.metadata.annotations?.['argocd.argoproj.io/hook']).toBe('PreSync');
    // Every rendered folder belongs to exactly one wave.
    const dirs = new Set([...renderEnvironment(env).keys()].filter((f) => f.startsWith('platform/rendered/')).map((f) => f.split('/')[3]));
    expect([...dirs].sort()).toEqual(waves.flatMap((w) => w.dirs).sort());
  });
});

describe('cross-references', () => {
  it('follow a namespace rename everywhere: objects, DNS names, selectors, Argo CD destinations', () => {
    const prod = loadValues('prod');
    const renamed = { frontend: 'shop-web', backend: 'shop-api', database: 'shop-db' };
    const text = JSON.stringify(plain({ ...prod, namespaces: renamed }));
    for (const old of ['frontend', 'backend', 'database']) {
      expect(text).not.toContain(`"namespace":"${old}"`);
      expect(text).not.toContain(`"kubernetes.io/metadata.name":"${old}"`);
      expect(text).not.toContain(`.${old}.svc`);
    }
    expect(text).toContain('database.shop-db.svc.cluster.local');
    expect(text).toContain('http://tasks-api.shop-api.svc.cluster.local');
  });
});

describe('dev and prod', () => {
  it('come from the same templates: with the same values they differ only in the environment name', () => {
    const base = parse(readFileSync(valuesFiles('dev')[0]!, 'utf8'));
    const normalise = (objects: K8sObject[], env: string) =>
      JSON.stringify(objects).replaceAll(`"app.kubernetes.io/environment":"${env}"`, '"app.kubernetes.io/environment":"ENV"').replaceAll(`platform/rendered/${env}`, 'platform/rendered/ENV').replaceAll(`platform/argocd/${env}`, 'platform/argocd/ENV').replaceAll(`-${env}-`, '-ENV-');
    const dev = plain({ ...loadValues('dev'), ...base, environment: 'dev' });
    const prod = plain({ ...loadValues('prod'), ...base, environment: 'prod' });
    expect(normalise(dev, 'dev')).toBe(normalise(prod, 'prod'));
  });

  it('differ only in keys their values files set', () => {
    const leaves = (o: unknown, path = ''): Map<string, unknown> => {
      const out = new Map<string, unknown>();
      if (o && typeof o === 'object' && !Array.isArray(o)) {
        for (const [k, v] of Object.entries(o)) for (const [p, x] of leaves(v, path ? `${path}.${k}` : k)) out.set(p, x);
      } else out.set(path, o);
      return out;
    };
    const dev = leaves(loadValues('dev'));
    const prod = leaves(loadValues('prod'));
    const differing = [...new Set([...dev.keys(), ...prod.keys()])].filter(
      (k) => JSON.stringify(dev.get(k)) !== JSON.stringify(prod.get(k)),
    );
    const setByEnvFiles = new Set(
      environments.flatMap((env) => [...leaves(parse(readFileSync(valuesFiles(env)[1]!, 'utf8'))).keys()]),
    );
    expect(differing.filter((k) => k !== 'environment' && !setByEnvFiles.has(k))).toEqual([]);
    expect(differing.length).toBeGreaterThan(1);
  });
});
