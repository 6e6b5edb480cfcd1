/**
 * What a cold start of the API costs in its image, next to the bare bundle on the host, in the
 * same run on the machine's PostgreSQL: the median over `runs` alternating runs of
 *  - bare bundle: spawn `node dist/api/server.mjs` → first 200 from GET /api/tasks;
 *  - image, start: the container's process spawned (mounts, user switch, then node) → first 200;
 *  - image, create + start: also opening the image as a container (buildah from + mount, what a
 *    runtime does before it starts one from an image already on the node);
 * plus the image sizes. Needs `npm run images` first and root.
 *
 * `npm run bench` calls {@link measureImageStart} for its image row; run alone,
 * `npx tsx bench/image-start.ts [--save]` prints the section and, with `--save`, writes it into
 * bench/results.md (between the `images` markers; `npm run bench -- --save` keeps it).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { appImages, imageSize, mib, runtimeBase, sizeBudget } from '../scripts/images/app-images';
import { commandExists, inspectImage } from '../scripts/images/buildah';
import { ensureBundle, freePort, migrateBundle, serverBundle } from '../test/support/api';
import { startApiImage } from '../test/support/images';
import { KubeletSecretVolume } from '../test/support/kubelet-secret-volume';
import { createTestDatabase } from '../test/support/postgres';
import { sectionMarkers, withSection } from './results-sections';

const results = new URL('./results.md', import.meta.url);
const markers = sectionMarkers('images', 'bench/image-start.ts');
const apiImage = appImages.find((i) => i.name === 'tasks-api')!;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Polls with fresh connections until GET /api/tasks answers 200; returns ms since `since`. */
async function firstOk(port: number, headers: Record<string, string>, since: bigint): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await new Promise<number>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/tasks', agent: false, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });
    if (status === 200) return Number(process.hrtime.bigint() - since) / 1e6;
    if (Date.now() > deadline) throw new Error(`no 200 from port ${port} within 30 s (last status ${status})`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Why the image start cannot be measured here (`undefined` when it can): containers are run as
 * root with buildah (test/support/images.ts), from the `tasks-api` image `npm run images` builds.
 */
export async function imageStartUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!commandExists('buildah')) return 'needs buildah';
  if (!(await inspectImage(apiImage.ref))) return `no ${apiImage.ref} image`;
  return undefined;
}

/** Medians in ms over the runs, and every run's figure. */
export interface ImageStart {
  runs: number;
  /** `node dist/api/server.mjs` on the host → first 200. */
  bare: number;
  /** The container's process spawned → first 200. */
  start: number;
  /** Opening the image as a container, then as `start`. */
  createStart: number;
  samples: { bare: number[]; start: number[]; createStart: number[] };
}

/**
 * Alternating runs of the bare bundle and the API image on `databaseUrl` (its schema migrated),
 * each answering GET /api/tasks with the manifest's credentials and internal token. Throws when a
 * container does not exit 0 after SIGTERM.
 */
export async function measureImageStart({ databaseUrl, runs, log = console.log }: { databaseUrl: string; runs: number; log?: (line: string) => void }): Promise<ImageStart> {
  await ensureBundle();
  const url = new URL(databaseUrl);
  // The bare bundle gets what the container gets: the manifest's way of passing credentials and token.
  const credentials = KubeletSecretVolume.create({ username: url.username || 'postgres', password: 'not-checked-by-trust-auth' });
  const token = KubeletSecretVolume.create({ token: 'bench-token' });
  const headers = { 'X-Internal-Token': 'bench-token' };
  const bareEnv = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'production',
    DB_DRIVER: 'pg',
    DB_HOST: url.hostname,
    DB_PORT: url.port || '5432',
    DB_NAME: url.pathname.slice(1),
    DB_CREDENTIALS_DIR: credentials.dir,
    INTERNAL_TOKEN_FILE: `${token.dir}/token`,
  };

  const samples = { bare: [] as number[], start: [] as number[], createStart: [] as number[] };
  try {
    for (let i = 0; i < runs; i++) {
      const port = await freePort();
      const since = process.hrtime.bigint();
      const child = spawn(process.execPath, [serverBundle], { env: { ...bareEnv, PORT: String(port) }, stdio: 'ignore' });
      samples.bare.push(await firstOk(port, headers, since));
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));

      const created = process.hrtime.bigint();
      const api = await startApiImage({ databaseUrl, waitReady: false, recordWrites: false });
      const done = await firstOk(api.port, api.headers, created);
      samples.createStart.push(done);
      samples.start.push(done - Number(api.container.startedAt - created) / 1e6);
      if ((await api.stop()) !== 0) throw new Error(`the API image did not exit 0:\n${api.logs()}`);
      log(`image run ${i + 1}/${runs}: bare ${samples.bare.at(-1)!.toFixed(0)} ms, image start ${samples.start.at(-1)!.toFixed(0)} ms, create + start ${samples.createStart.at(-1)!.toFixed(0)} ms`);
    }
  } finally {
    credentials.remove();
    token.remove();
  }
  return { runs, bare: median(samples.bare), start: median(samples.start), createStart: median(samples.createStart), samples };
}

/** The `images` section of bench/results.md: cold start in the image and the image sizes. */
export async function imageSection(m: ImageStart): Promise<string> {
  const sizes = [];
  for (const image of appImages) sizes.push({ image, size: await imageSize(image.ref, runtimeBase(image)) });
  const rows = [
    `| bare bundle on the host (\`node dist/api/server.mjs\`, Node ${process.version}) | ${m.bare.toFixed(0)} | 1.00× |`,
    `| tasks-api image: start → first 200 | ${m.start.toFixed(0)} | ${(m.start / m.bare).toFixed(2)}× |`,
    `| tasks-api image: create + start → first 200 | ${m.createStart.toFixed(0)} | ${(m.createStart / m.bare).toFixed(2)}× |`,
  ];
  const sizeRows = sizes.map(
    ({ image, size }) =>
      `| ${image.ref} | ${mib(size.uncompressed)} | ${mib(size.compressed)} | ${mib(size.own.uncompressed)} / ${mib(size.own.compressed)} | ${mib(sizeBudget[image.name].compressed)} |`,
  );
  return [
    markers.start,
    '## Images',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with bench/image-start.ts (\`npm run bench\`, or alone) on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, machine shared with other work. ` +
      `Cold start over ${m.runs} alternating runs, median, first 200 from GET /api/tasks on PostgreSQL at 127.0.0.1; the image runs as the tests run it ` +
      '(read-only root, Secret volumes, its user; test/support/images.ts) with its own Node.js 24. The bases are stand-ins (see the README).',
    '',
    '| cold start | ms | ratio |',
    '| --- | ---: | ---: |',
    ...rows,
    '',
    '| image | uncompressed | compressed (gzip layers) | own layers, uncompressed / compressed | budget (compressed) |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...sizeRows,
    markers.end,
  ].join('\n');
}

async function main() {
  const save = process.argv.includes('--save');
  const why = await imageStartUnavailable();
  if (why) throw new Error(`cannot measure the image start: ${why} (run npm run images as root)`);
  const database = await createTestDatabase('tasks_bench_image');
  try {
    const migrated = spawn(process.execPath, [migrateBundle], { env: { PATH: process.env.PATH ?? '', DATABASE_URL: database.url, DB_DRIVER: 'pg' }, stdio: 'inherit' });
    if ((await new Promise((r) => migrated.on('exit', r))) !== 0) throw new Error('migrate failed');
    const section = await imageSection(await measureImageStart({ databaseUrl: database.url, runs: Number(process.env.BENCH_COLD_RUNS ?? 7) }));
    console.log(`\n${section}`);
    if (save) {
      writeFileSync(results, withSection(readFileSync(results, 'utf8'), 'images', section));
      console.log('\nwritten to bench/results.md');
    } else {
      console.log('\nnot saved (npx tsx bench/image-start.ts --save writes it into bench/results.md)');
    }
  } finally {
    await database.drop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
