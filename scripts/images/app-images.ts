// The two images the cluster runs, built from their Dockerfiles with buildah, and what they weigh.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildah, run } from './buildah';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

export interface AppImage {
  name: 'tasks-api' | 'tasks-web';
  /** `<name>:<package version>`, the tag the rendered manifests use (without their registry). */
  ref: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
}

export const appImages: readonly AppImage[] = [
  { name: 'tasks-api', ref: `tasks-api:${version}`, dockerfile: 'functions/api/Dockerfile', buildArgs: {} },
  { name: 'tasks-web', ref: `tasks-web:${version}`, dockerfile: 'web/Dockerfile', buildArgs: { APP_VERSION: version } },
];

/**
 * Size budgets in bytes, as a node pulls them (gzip layer tarballs, base included). A test fails
 * when an image grows past its budget; raise it on purpose, not by accident.
 */
export const sizeBudget: Record<AppImage['name'], { compressed: number }> = {
  'tasks-api': { compressed: 90 * 2 ** 20 },
  'tasks-web': { compressed: 45 * 2 ** 20 },
};

/**
 * `buildah build --isolation chroot` of one Dockerfile from the repository root, never pulling
 * (the FROM images are the stand-ins in local storage). `--layers` keeps each step's result, so a
 * rebuild with an unchanged package-lock.json reuses the `npm ci` step.
 */
export async function buildAppImage(image: AppImage, opts: { stream?: boolean } = {}): Promise<void> {
  const trust = hostTrust();
  try {
    await buildah(
      [
        'build', '--isolation', 'chroot', '--pull=never', '--layers',
        ...trust.volumes.flatMap((v) => ['--volume', v]),
        ...Object.entries(image.buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
        '-f', join(root, image.dockerfile),
        '-t', image.ref,
        root,
      ],
      { stream: opts.stream },
    );
  } finally {
    trust.cleanup();
  }
}

/**
 * npm inside the build trusts the certificate authorities the host trusts (a network that
 * inspects TLS has its own CA there): the host's bundle and an npmrc naming it are bound into
 * every RUN step, at npm's global config path for a Node in /usr/local. Bind mounts are not part
 * of any layer, so nothing of the host ends up in the image.
 */
function hostTrust(): { volumes: string[]; cleanup(): void } {
  const bundle = process.env.SSL_CERT_FILE && existsSync(process.env.SSL_CERT_FILE) ? process.env.SSL_CERT_FILE : '/etc/ssl/certs/ca-certificates.crt';
  if (!existsSync(bundle)) return { volumes: [], cleanup() {} };
  const dir = mkdtempSync(join(tmpdir(), 'tasks-build-trust-'));
  writeFileSync(join(dir, 'npmrc'), 'cafile=/usr/local/etc/host-ca-certificates.crt\n');
  return {
    volumes: [`${bundle}:/usr/local/etc/host-ca-certificates.crt:ro`, `${join(dir, 'npmrc')}:/usr/local/etc/npmrc:ro`],
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface ImageSize {
  /** Sum of the uncompressed layer tarballs: the image's size on a node's disk. */
  uncompressed: number;
  /** Sum of the gzip layer tarballs: what a node downloads on a cold pull (no layer cached). */
  compressed: number;
  /** The part of each that the image adds on top of its base (layers the base does not have). */
  own: { uncompressed: number; compressed: number };
}

interface OciManifest {
  layers: { digest: string; size: number }[];
}

/** Gzip layer sizes, in the image's layer order: the layers as an OCI layout, as a registry stores them. */
async function compressedLayers(ref: string): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tasks-image-size-'));
  try {
    await buildah(['push', '--quiet', '--compression-format', 'gzip', ref, `oci:${dir}:image`]);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const blob = (digest: string) => join(dir, 'blobs', ...digest.split(':'));
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), 'utf8')) as OciManifest;
    return manifest.layers.map((l) => statSync(blob(l.digest)).size);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Uncompressed layer sizes by diff ID: a docker-archive holds each layer as `<diff id hex>.tar`.
 * (An OCI layout is no use here: buildah reuses the compressed blobs it already knows.)
 */
async function uncompressedLayers(ref: string): Promise<Map<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'tasks-image-size-'));
  try {
    const archive = join(dir, 'image.tar');
    await buildah(['push', '--quiet', '--disable-compression', ref, `docker-archive:${archive}`]);
    const listing = await run('tar', ['-tvf', archive]);
    const sizes = new Map<string, number>();
    for (const line of listing.split('\n')) {
      const m = /\s(\d+)\s+\S+\s+\S+\s+([0-9a-f]{64})\.tar$/.exec(line);
      if (m) sizes.set(`sha256:${m[2]}`, Number(m[1]));
    }
    return sizes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The diff IDs (uncompressed layer digests) of an image, base layers first. */
async function diffIds(ref: string): Promise<string[]> {
  const json = JSON.parse(await buildah(['inspect', '--type', 'image', ref])) as { OCIv1: { rootfs: { diff_ids: string[] } } };
  return json.OCIv1.rootfs.diff_ids;
}

/**
 * Measures an image's layers uncompressed (a docker-archive) and as gzip tarballs (an OCI layout,
 * buildah's default level), in bytes. `base` names the FROM image, to tell the image's own layers
 * apart.
 */
export async function imageSize(ref: string, base: string): Promise<ImageSize> {
  const [ids, baseIds, plain, gzip] = await Promise.all([diffIds(ref), diffIds(base), uncompressedLayers(ref), compressedLayers(ref)]);
  if (gzip.length !== ids.length) throw new Error(`${ref}: ${ids.length} layers but ${gzip.length} in its OCI layout`);
  const size = { uncompressed: 0, compressed: 0, own: { uncompressed: 0, compressed: 0 } };
  ids.forEach((id, i) => {
    const u = plain.get(id);
    if (u === undefined) throw new Error(`${ref}: layer ${id} missing from its docker-archive`);
    size.uncompressed += u;
    size.compressed += gzip[i]!;
    if (!baseIds.includes(id)) {
      size.own.uncompressed += u;
      size.own.compressed += gzip[i]!;
    }
  });
  return size;
}

/** The last FROM of a Dockerfile: the base its runtime stage is built on. */
export function runtimeBase(image: AppImage): string {
  const froms = readFileSync(join(root, image.dockerfile), 'utf8')
    .split('\n')
    .map((l) => /^FROM\s+(\S+)/i.exec(l.trim())?.[1])
    .filter((f): f is string => f !== undefined);
  return froms.at(-1)!;
}

export const mib = (bytes: number) => (bytes < 2 ** 20 ? `${(bytes / 1024).toFixed(0)} KiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);
