import { serve } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../functions/api/config';
import { createLogger } from '../functions/api/logger';
import { createService } from '../functions/api/service';
import { runtimeConfig } from '../web/server/runtime-config';
import { newestMtime } from './build-functions';

/**
 * `npm start`: the built SPA and the API on one port, on PGlite in .data/ unless a database
 * is configured. Builds the SPA first when web/dist is missing or older than its sources.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'web/dist');

if (!existsSync(join(dist, 'index.html')) || statSync(join(dist, 'index.html')).mtimeMs < newestMtime(join(root, 'web'))) {
  console.log('Building the web app (web/dist is missing or stale)…');
  const r = spawnSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

let config;
let ui;
try {
  config = loadConfig();
  ui = runtimeConfig(process.env);
} catch (err) {
  console.error(err instanceof ConfigError || err instanceof Error ? err.message : err);
  process.exit(78);
}
const log = createLogger(config.logLevel);
const service = createService(config, log);
service.migrateOnStart()?.catch((err) => {
  console.error(`Start-up migrations failed: ${err?.message ?? err}`);
  process.exit(1);
});

const app = new Hono();
app.get('/config.json', (c) => c.json(ui, 200, { 'Cache-Control': 'no-store' }));
app.route('/', service.app);
app.use('/assets/*', async (c, next) => {
  await next();
  if (c.res.ok) c.header('Cache-Control', 'public, max-age=31536000, immutable');
});
app.use('/*', serveStatic({ root: dist }));
// SPA fallback: any other GET that is not an API or probe path gets index.html.
app.get('*', serveStatic({ path: join(dist, 'index.html') }));

const server = serve({ fetch: app.fetch, port: config.port }, (info) => {
  const db = config.driver === 'pglite' ? `PGlite in ${config.pgliteDir}` : `${config.driver} database`;
  console.log(`Task app running at http://localhost:${info.port} (${db}). Press Ctrl+C to stop.`);
});
const stop = () => {
  service.state.shuttingDown = true;
  server.close(() => void service.close().then(() => process.exit(0)));
  setTimeout(() => process.exit(0), 5000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
