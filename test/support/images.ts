import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, constants, existsSync, lstatSync, openSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { buildah, inspectImage, type ImageConfig } from '../../scripts/images/buildah';
import { appImages } from '../../scripts/images/app-images';
import { freePort } from './api';
import { KubeletSecretVolume } from './kubelet-secret-volume';
import { adminUrl } from './postgres';

/**
 * Runs a built image the way a kubelet and its container runtime run a container, with the tools
 * of a Linux host (root needed):
 *
 * - the image is opened as a buildah working container and its root filesystem mounted;
 * - a private mount namespace (`unshare --mount`) gets that root bound **read-only**
 *   (readOnlyRootFilesystem), an emptyDir-like tmpfs at `/tmp`, a fresh `/proc`, a minimal `/dev`
 *   (null, zero, full, random, urandom, tty and the fd links), and each Secret volume bound
 *   read-only at its mountPath;
 * - the process enters that root with `nsenter --root --wd` (the image's WORKDIR), as
 *   runAsUser:runAsGroup with no supplementary groups but its own, under `no_new_privs`
 *   (allowPrivilegeEscalation: false), so it has no capabilities;
 * - its command is the image's ENTRYPOINT + CMD unless `command` replaces them (Kubernetes'
 *   `command`), its environment the image's ENV overlaid with the container's `env`;
 * - the network is the host's (as with hostNetwork), so each test picks its own PORT;
 * - stopping sends the image's STOPSIGNAL (SIGTERM when none), as the runtime does.
 *
 * `buildah run --isolation chroot` was the other candidate; it cannot make the root read-only, so
 * the runtime here is these util-linux tools. Every file of the root filesystem (name, type, mode,
 * size, mtime) is recorded before the start and compared after the exit: `writesOutsideTmp()`.
 */
export interface ContainerSpec {
  image: string;
  /** Replaces ENTRYPOINT and CMD, as a Pod's `command` does. */
  command?: string[];
  env?: Record<string, string>;
  /** Read-only volumes: a host directory (e.g. a KubeletSecretVolume) at a path in the container. */
  volumes?: { mountPath: string; hostDir: string }[];
  runAsUser: number;
  runAsGroup: number;
  /** Record the root filesystem for writesOutsideTmp() (default true; off when timing a start). */
  recordWrites?: boolean;
}

export interface RunningContainer {
  pid: number;
  /** process.hrtime.bigint() when the container's process was spawned (its mounts not yet made). */
  startedAt: bigint;
  child: ChildProcess;
  config: ImageConfig;
  logs(): string;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** Sends `signal` (default: the image's STOPSIGNAL, else SIGTERM); resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** After the exit: every path of the root filesystem that changed, was added or removed. */
  writesOutsideTmp(): string[];
  /** Unmounts and removes the working container (after the exit). */
  remove(): Promise<void>;
}

type Snapshot = Map<string, string>;

/** name → "type mode size mtime target" for every file under `root`, as the host sees it. */
function snapshot(root: string): Snapshot {
  const out: Snapshot = new Map();
  const walk = (rel: string) => {
    const st = lstatSync(join(root, rel));
    const target = st.isSymbolicLink() ? readlinkSync(join(root, rel)) : '';
    out.set(rel || '/', `${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${target}`);
    if (st.isDirectory()) for (const name of readdirSync(join(root, rel))) walk(`${rel}/${name}`);
  };
  walk('');
  return out;
}

function changes(before: Snapshot, after: Snapshot): string[] {
  const changed: string[] = [];
  for (const [path, v] of after) if (before.get(path) !== v) changed.push(`${before.has(path) ? 'changed' : 'added'} ${path}`);
  for (const path of before.keys()) if (!after.has(path)) changed.push(`removed ${path}`);
  return changed.sort();
}

/**
 * A path inside the container's root filesystem as the host must open it: symlinks (such as
 * Debian's /var/run → /run) are followed *inside* `root`, never out of it.
 */
export function pathInRoot(root: string, path: string): string {
  let resolved = '/';
  const pending = path.split('/').filter(Boolean);
  for (let hops = 0; pending.length > 0; ) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved = posix.dirname(resolved);
      continue;
    }
    const next = posix.join(resolved, part);
    let st;
    try {
      st = lstatSync(join(root, next));
    } catch {
      resolved = next; // does not exist (yet): a mountpoint to create
      continue;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) throw new Error(`too many symlinks in ${path}`);
      const target = readlinkSync(join(root, next));
      pending.unshift(...target.split('/').filter(Boolean));
      if (target.startsWith('/')) resolved = '/';
      continue;
    }
    resolved = next;
  }
  return join(root, resolved);
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Starts a container from `spec.image` (see the interface comment for what it sets up). */
export async function runContainer(spec: ContainerSpec): Promise<RunningContainer> {
  const config = await inspectImage(spec.image);
  if (!config) throw new Error(`image ${spec.image} not found: run \`npm run images\` first`);
  const ctr = (await buildah(['from', '--pull=never', '--name', `tasks-test-${process.pid}-${Date.now()}`, spec.image])).trim();
  const rootfs = (await buildah(['mount', ctr])).trim();
  const remove = async () => {
    await buildah(['umount', ctr]).catch(() => undefined);
    await buildah(['rm', ctr]).catch(() => undefined);
  };
  try {
    // Mountpoints are made in the container's own layer before the start, as a runtime does.
    const binds = (spec.volumes ?? []).map((v) => {
      const target = pathInRoot(rootfs, v.mountPath);
      mkdirSync(target, { recursive: true });
      return { source: v.hostDir, target: target.slice(rootfs.length) };
    });
    // The kubelet gives every container the node's DNS configuration at /etc/resolv.conf.
    const resolvConf = pathInRoot(rootfs, '/etc/resolv.conf');
    if (!existsSync(resolvConf)) writeFileSync(resolvConf, '');
    binds.push({ source: '/etc/resolv.conf', target: resolvConf.slice(rootfs.length) });
    const record = spec.recordWrites ?? true;
    const before = record ? snapshot(rootfs) : undefined;

    const workdir = config.WorkingDir || '/';
    const argv = spec.command ?? [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
    if (argv.length === 0) throw new Error(`${spec.image} has no ENTRYPOINT or CMD and no command was given`);
    const env = new Map<string, string>();
    for (const kv of config.Env ?? []) env.set(kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1));
    for (const [k, v] of Object.entries(spec.env ?? {})) env.set(k, v);

    const dir = mkdtempSync(join(tmpdir(), 'tasks-container-'));
    const r = join(dir, 'root');
    mkdirSync(r);
    const devices = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];
    const setup = [
      'set -eu',
      'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
      `mount --bind ${sh(rootfs)} ${sh(r)}`,
      `mount -o remount,bind,ro ${sh(r)}`,
      `mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m tmpfs ${sh(`${r}/tmp`)}`,
      `mount -t proc -o nosuid,nodev,noexec proc ${sh(`${r}/proc`)}`,
      `mount -t tmpfs -o mode=755,nosuid,size=64k tmpfs ${sh(`${r}/dev`)}`,
      ...devices.map((d) => `touch ${sh(`${r}/dev/${d}`)} && mount --bind /dev/${d} ${sh(`${r}/dev/${d}`)}`),
      `ln -s /proc/self/fd ${sh(`${r}/dev/fd`)}`,
      ...['stdin', 'stdout', 'stderr'].map((s, i) => `ln -s /proc/self/fd/${i} ${sh(`${r}/dev/${s}`)}`),
      ...binds.flatMap((b) => [`mount --bind ${sh(b.source)} ${sh(r + b.target)}`, `mount -o remount,bind,ro ${sh(r + b.target)}`]),
      // stdout and stderr are FIFOs, as a container runtime gives them: /dev/stderr can be opened
      // (nginx does), which a socket (what Node's spawn pipes are) cannot.
      `exec >${sh(`${dir}/stdout`)} 2>${sh(`${dir}/stderr`)}`,
      'exec /usr/bin/env -i "$@"',
    ].join('\n');
    const args = [
      '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', setup, 'container',
      ...[...env].map(([k, v]) => `${k}=${v}`),
      '/usr/bin/setpriv', '--no-new-privs', '--',
      '/usr/bin/nsenter', `--root=${r}`, `--wd=${join(r, pathInRoot(rootfs, workdir).slice(rootfs.length))}`, '-S', String(spec.runAsUser), '-G', String(spec.runAsGroup), '--',
      ...argv,
    ];
    for (const fifo of ['stdout', 'stderr']) {
      execFileSync('mkfifo', ['-m', '600', join(dir, fifo)]);
      // As runc's fixStdioPermissions: the container's user owns its stdio, so it can reopen them.
      chownSync(join(dir, fifo), spec.runAsUser, spec.runAsGroup);
    }
    const startedAt = process.hrtime.bigint();
    const child = spawn('/usr/bin/unshare', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    // A `cat` per FIFO reads it: a blocking read in this process would hold one of libuv's four
    // threadpool threads for the container's whole life.
    const readers = ['stdout', 'stderr'].map((fifo) => spawn('cat', [join(dir, fifo)], { stdio: ['ignore', 'pipe', 'ignore'] }).stdout!);
    const streams = [child.stdout!, child.stderr!, ...readers];
    const drained = streams.map((s) => new Promise<void>((resolve) => s.on('data', (d: Buffer) => (output += d)).on('close', resolve).on('error', () => resolve())));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => {
        // When the setup failed before it opened the FIFOs, their readers still wait for a writer.
        for (const fifo of ['stdout', 'stderr']) {
          try {
            closeSync(openSync(join(dir, fifo), constants.O_WRONLY | constants.O_NONBLOCK));
          } catch {
            // no reader left: it has seen the end already
          }
        }
        void Promise.all(drained).then(() => resolve(code));
      }),
    );
    let after: Snapshot | undefined;
    void exited.then(() => {
      if (record) after = snapshot(rootfs);
      rmSync(dir, { recursive: true, force: true });
    });
    const stopSignal = (config.StopSignal || 'SIGTERM') as NodeJS.Signals;
    return {
      pid: child.pid!,
      startedAt,
      child,
      config,
      logs: () => output,
      exited,
      async stop(signal = stopSignal) {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
      writesOutsideTmp() {
        if (!before) throw new Error('writesOutsideTmp() needs recordWrites');
        if (!after) throw new Error('writesOutsideTmp() is known only after the container exited');
        return changes(before, after);
      },
      async remove() {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
          await exited;
        }
        await remove();
      },
    };
  } catch (err) {
    await remove();
    throw err;
  }
}

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The container named `container` in the rendered manifest `file` (platform/rendered/<env>/…):
 * its environment (`env` values and the ConfigMaps it reads with `envFrom`, from the same file),
 * its securityContext user, and its volume mounts.
 */
export function renderedContainer(file: string, container: string) {
  const docs = parseAllDocuments(readFileSync(join(root, 'platform/rendered', file), 'utf8')).map((d) => d.toJS()) as any[];
  const configMaps = new Map(docs.filter((d) => d?.kind === 'ConfigMap').map((d) => [d.metadata.name as string, d.data as Record<string, string>]));
  for (const doc of docs) {
    const pod = doc?.kind === 'Service' ? doc.spec.template.spec : doc?.spec?.template?.spec;
    const c = pod?.containers?.find((x: any) => x.name === container);
    if (!c) continue;
    const env: Record<string, string> = {};
    for (const from of c.envFrom ?? []) Object.assign(env, configMaps.get(from.configMapRef?.name) ?? {});
    for (const e of c.env ?? []) if (typeof e.value === 'string') env[e.name] = e.value;
    const sc = { ...(pod.securityContext ?? {}), ...(c.securityContext ?? {}) };
    return {
      image: c.image as string,
      command: c.command as string[] | undefined,
      env,
      port: c.ports?.[0]?.containerPort as number | undefined,
      runAsUser: sc.runAsUser as number | undefined,
      runAsGroup: sc.runAsGroup as number | undefined,
      runAsNonRoot: sc.runAsNonRoot === true,
      readOnlyRootFilesystem: sc.readOnlyRootFilesystem === true,
      mounts: (c.volumeMounts ?? []) as { name: string; mountPath: string; readOnly?: boolean }[],
    };
  }
  throw new Error(`no container ${container} in platform/rendered/${file}`);
}

/** The image the tests run for a rendered `registry/…/tasks-api:1.0.0`: the local build. */
export function localImage(rendered: string): string {
  const name = rendered.split('/').at(-1)!;
  const known = appImages.find((i) => i.ref === name);
  if (!known) throw new Error(`the manifests name ${rendered}; \`npm run images\` builds ${appImages.map((i) => i.ref).join(', ')}`);
  return known.ref;
}

/** The database named in a postgres:// URL, as the Secret's `username`/`password` files and DB_* variables. */
function databaseParts(url: string) {
  const u = new URL(url);
  return { host: u.hostname, port: u.port || '5432', name: u.pathname.slice(1), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
}

export interface RunningApiImage {
  url: string;
  port: number;
  /** The internal token the API requires (sent by nginx as X-Internal-Token). */
  token: string;
  /** Headers every /api request needs: the internal token. */
  headers: Record<string, string>;
  container: RunningContainer;
  /** SIGTERM (the drain); resolves with the exit code. The container is removed afterwards. */
  stop(): Promise<number | null>;
  logs(): string;
}

/**
 * Starts the tasks-api image as platform/rendered/prod/backend/30-tasks-api.yaml runs it, on the
 * database at `databaseUrl`: the manifest's ConfigMap environment with DB_HOST/DB_PORT/DB_NAME
 * pointed at that database, PORT as Knative sets it (a free port here, host network), the
 * `database-credentials` and `internal-token` Secrets as kubelet-style volumes, and waits until
 * /readyz answers 200. The schema must exist (run the image's migrate entry first, as the
 * cluster's Job does). `env` overrides anything.
 */
export async function startApiImage(opts: {
  databaseUrl: string;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** false: return at once, without waiting for /readyz (to time the start). */
  waitReady?: boolean;
  /** false: skip recording the root filesystem (to time the start). */
  recordWrites?: boolean;
}): Promise<RunningApiImage> {
  const spec = renderedContainer('prod/backend/30-tasks-api.yaml', 'api');
  const db = databaseParts(opts.databaseUrl);
  const port = await freePort();
  const token = `image-test-${process.pid}-${port}`;
  // Trust auth ignores the password, but the Secret always has one.
  const credentials = KubeletSecretVolume.create({ username: db.user || 'postgres', password: db.password || 'not-checked-by-trust-auth' });
  const tokenVolume = KubeletSecretVolume.create({ token });
  for (const v of [credentials, tokenVolume]) chmodSync(v.dir, 0o755);
  const volumeDirs: Record<string, string> = { 'database-credentials': credentials.dir, 'internal-token': tokenVolume.dir };
  const container = await runContainer({
    image: localImage(spec.image),
    env: {
      ...spec.env,
      HOSTNAME: 'tasks-api-00001-deployment-test',
      K_SERVICE: 'tasks-api',
      K_CONFIGURATION: 'tasks-api',
      K_REVISION: 'tasks-api-00001',
      PORT: String(port),
      DB_HOST: db.host,
      DB_PORT: db.port,
      DB_NAME: db.name,
      ...opts.env,
    },
    volumes: spec.mounts.filter((m) => volumeDirs[m.name]).map((m) => ({ mountPath: m.mountPath, hostDir: volumeDirs[m.name]! })),
    runAsUser: spec.runAsUser!,
    runAsGroup: spec.runAsGroup!,
    recordWrites: opts.recordWrites,
  });
  const cleanup = async () => {
    await container.remove();
    credentials.remove();
    tokenVolume.remove();
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (; opts.waitReady !== false; ) {
    if (container.child.exitCode !== null) {
      await cleanup();
      throw new Error(`the API image exited with ${container.child.exitCode} before it was ready:\n${container.logs()}`);
    }
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await cleanup();
      throw new Error(`the API image was not ready within ${opts.readyTimeoutMs ?? 30_000} ms:\n${container.logs()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    token,
    headers: { 'X-Internal-Token': token },
    container,
    logs: () => container.logs(),
    async stop() {
      const code = await container.stop();
      await cleanup();
      return code;
    },
  };
}

/**
 * Runs the image's migrate entry as platform/rendered/prod/migrate/00-job.yaml does (its command,
 * env, user and both Secret volumes): as the admin in `databaseUrl`, and, with `app`, making sure
 * that login role exists with DML rights only (APP_CREDENTIALS_DIR). Resolves with the exit code,
 * the output and what it wrote outside /tmp.
 */
export async function runMigrateImage(
  databaseUrl: string,
  opts: { app?: { username: string; password: string } } = {},
): Promise<{ code: number | null; logs: string; writes: string[] }> {
  const spec = renderedContainer('prod/migrate/00-job.yaml', 'migrate');
  const db = databaseParts(databaseUrl);
  const volumes: Record<string, KubeletSecretVolume> = {
    'admin-credentials': KubeletSecretVolume.create({ username: db.user || 'postgres', password: db.password || 'not-checked-by-trust-auth' }),
  };
  if (opts.app) volumes['app-credentials'] = KubeletSecretVolume.create(opts.app);
  for (const v of Object.values(volumes)) chmodSync(v.dir, 0o755);
  const { APP_CREDENTIALS_DIR, ...env } = spec.env;
  const container = await runContainer({
    image: localImage(spec.image),
    command: spec.command,
    env: { ...env, ...(opts.app ? { APP_CREDENTIALS_DIR: APP_CREDENTIALS_DIR! } : {}), DB_HOST: db.host, DB_PORT: db.port, DB_NAME: db.name },
    volumes: spec.mounts.filter((m) => volumes[m.name]).map((m) => ({ mountPath: m.mountPath, hostDir: volumes[m.name]!.dir })),
    runAsUser: spec.runAsUser!,
    runAsGroup: spec.runAsGroup!,
  });
  try {
    const code = await container.exited;
    return { code, logs: container.logs(), writes: container.writesOutsideTmp() };
  } finally {
    await container.remove();
    for (const v of Object.values(volumes)) v.remove();
  }
}

export { adminUrl };

export interface RunningWebImage {
  url: string;
  container: RunningContainer;
  /** The image's STOPSIGNAL (SIGQUIT: nginx's graceful stop); resolves with the exit code. The container is removed afterwards. */
  stop(): Promise<number | null>;
  logs(): string;
}

/**
 * Starts the tasks-web image as platform/rendered/prod/frontend/30-web.yaml runs it: the web-config
 * environment with API_UPSTREAM pointed at `apiUpstream` (http://host:port), PORT a free port
 * (host network), the `internal-token` Secret as a kubelet-style volume holding `token`, user 101;
 * waits until /healthz answers 200.
 */
export async function startWebImage(opts: { apiUpstream: string; token: string; env?: Record<string, string> }): Promise<RunningWebImage> {
  const spec = renderedContainer('prod/frontend/30-web.yaml', 'web');
  const port = await freePort();
  const tokenVolume = KubeletSecretVolume.create({ token: opts.token });
  chmodSync(tokenVolume.dir, 0o755);
  const container = await runContainer({
    image: localImage(spec.image),
    env: { ...spec.env, HOSTNAME: 'web-test', PORT: String(port), API_UPSTREAM: opts.apiUpstream, ...opts.env },
    volumes: spec.mounts.filter((m) => m.name === 'internal-token').map((m) => ({ mountPath: m.mountPath, hostDir: tokenVolume.dir })),
    runAsUser: spec.runAsUser!,
    runAsGroup: spec.runAsGroup!,
  });
  const cleanup = async () => {
    await container.remove();
    tokenVolume.remove();
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (container.child.exitCode !== null) {
      await cleanup();
      throw new Error(`the web image exited with ${container.child.exitCode}:\n${container.logs()}`);
    }
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await cleanup();
      throw new Error(`the web image did not answer /healthz within 15 s:\n${container.logs()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    container,
    logs: () => container.logs(),
    async stop() {
      const code = await container.stop();
      await cleanup();
      return code;
    },
  };
}
