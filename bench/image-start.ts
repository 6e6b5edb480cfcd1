/**
 * `npx tsx bench/image-start.ts`: what a cold start of the API costs in its image, next to the
 * bare bundle on the host, in the same run on the machine's PostgreSQL: the median over
 * BENCH_COLD_RUNS (7) alternating runs of
 *  - bare bundle: spawn `node dist/api/server.mjs` → first 200 from GET /api/tasks;
 *  - image, start: the container's process spawned (mounts, user switch, then node) → first 200;
 *  - image, create + start: also opening the image as a container (buildah from + mount, what a
 *    runtime does before it starts one from an image already on the node);
 * plus the image sizes. Needs `npm run images` first and root. Writes its section of
 * bench/results.md (between the `images` markers; `npm run bench` keeps it).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus } from 'node:os';
import { appImages, imageSize, mib, runtimeBase, sizeBudget } from '../scripts/images/app-images';
import { ensureBundle, freePort, migrateBundle, serverBundle } from '../test/support/api';
import { startApiImage } from '../test/support/images';
import { KubeletSecretVolume } from '../test/support/kubelet-secret-volume';
import { createTestDatabase } from '../test/support/postgres';

const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 7);
const results = new URL('./results.md', import.meta.url);
const markers = { start: '<!-- images: written by bench/image-start.ts -->', end: '<!-- /images -->' } as const;

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

await ensureBundle();
const database = await createTestDatabase('tasks_bench_image');
try {
  const url = new URL(database.url);
  const migrated = spawn(process.execPath, [migrateBundle], { env: { PATH: process.env.PATH ?? '', DATABASE_URL: database.url, DB_DRIVER: 'pg' }, stdio: 'inherit' });
  if ((await new Promise((r) => migrated.on('exit', r))) !== 0) throw new Error('migrate failed');

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

  const bare: number[] = [];
  const start: number[] = [];
  const createStart: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const port = await freePort();
    const since = process.hrtime.bigint();
    const child = spawn(process.execPath, [serverBundle], { env: { ...bareEnv, PORT: String(port) }, stdio: 'ignore' });
    bare.push(await firstOk(port, headers, since));
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));

    const created = process.hrtime.bigint();
    const api = await startApiImage({ databaseUrl: database.url, waitReady: false, recordWrites: false });
    const done = await firstOk(api.port, api.headers, created);
    createStart.push(done);
    start.push(done - Number(api.container.startedAt - created) / 1e6);
    if ((await api.stop()) !== 0) throw new Error(`the API image did not exit 0:\n${api.logs()}`);
    console.log(`run ${i + 1}/${RUNS}: bare ${bare.at(-1)!.toFixed(0)} ms, image start ${start.at(-1)!.toFixed(0)} ms, create + start ${createStart.at(-1)!.toFixed(0)} ms`);
  }
  credentials.remove();
  token.remove();

  const sizes = [];
  for (const image of appImages) sizes.push({ image, size: await imageSize(image.ref, runtimeBase(image)) });

  const b = median(bare);
  const rows = [
    `| bare bundle on the host (\`node dist/api/server.mjs\`, Node ${process.version}) | ${b.toFixed(0)} | 1.00× |`,
    `| tasks-api image: start → first 200 | ${median(start).toFixed(0)} | ${(median(start) / b).toFixed(2)}× |`,
    `| tasks-api image: create + start → first 200 | ${median(createStart).toFixed(0)} | ${(median(createStart) / b).toFixed(2)}× |`,
  ];
  const sizeRows = sizes.map(
    ({ image, size }) =>
      `| ${image.ref} | ${mib(size.uncompressed)} | ${mib(size.compressed)} | ${mib(size.own.uncompressed)} / ${mib(size.own.compressed)} | ${mib(sizeBudget[image.name].compressed)} |`,
  );
  const section = [
    markers.start,
    '## Images',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npx tsx bench/image-start.ts\` on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, machine shared with other work. ` +
      `Cold start over ${RUNS} alternating runs, median, first 200 from GET /api/tasks on PostgreSQL at 127.0.0.1; the image runs as the tests run it ` +
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
  const md = readFileSync(results, 'utf8');
  const at = md.indexOf(markers.start);
  const next = at >= 0 ? md.slice(0, at) + section + md.slice(md.indexOf(markers.end) + markers.end.length) : `${md.trimEnd()}\n\n${section}\n`;
  writeFileSync(results, next);
  console.log(`\n${section}\n\nwritten to bench/results.md`);
} finally {
  await database.drop();
}
