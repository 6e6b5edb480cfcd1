/**
 * `npm run preview:nginx`: serves web/dist through the real nginx with the image's configuration
 * (web/nginx/entrypoint.sh), on PORT (8080), proxying /api/ to API_UPSTREAM (http://127.0.0.1:3000).
 * Every other variable the entrypoint reads (FEATURE_*, API_URL, INTERNAL_TOKEN_FILE…) passes through.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageVersion } from '../functions/api/version';
import { exitCode, runCommandLine } from './ops/cli';

const help = 'usage: npm run preview:nginx   (PORT, API_UPSTREAM and the image\'s variables from the environment)\n';

runCommandLine({ name: 'preview:nginx', help, flags: {} }, () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const html = join(root, 'web/dist');
  if (!existsSync(join(html, 'index.html'))) throw new Error('web/dist/index.html is missing; run `npm run build:web` first.');

  // nginx writes only here; its workers run as "nobody" when this runs as root, so they must enter it.
  const runtime = mkdtempSync(join(tmpdir(), 'tasks-preview-nginx-'));
  chmodSync(runtime, 0o755);

  const port = process.env.PORT ?? '8080';
  const upstream = process.env.API_UPSTREAM ?? 'http://127.0.0.1:3000';
  const child = spawn('sh', [join(root, 'web/nginx/entrypoint.sh')], {
    stdio: 'inherit',
    env: {
      ...process.env,
      PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`,
      PORT: port,
      API_UPSTREAM: upstream,
      HTML_DIR: html,
      RUNTIME_DIR: runtime,
      // As in runtime-config.ts: the package version unless APP_VERSION says otherwise.
      APP_VERSION: process.env.APP_VERSION || packageVersion(),
    },
  });
  console.log(`preview:nginx: http://localhost:${port}/ (web/dist, /api/ → ${upstream})`);

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => child.kill('SIGQUIT'));
  }
  return new Promise<number>((resolve) =>
    child.on('exit', (code, signal) => {
      rmSync(runtime, { recursive: true, force: true });
      resolve(code ?? (signal ? exitCode.problems : exitCode.ok));
    }),
  );
});
