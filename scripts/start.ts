import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { join } from 'node:path';
import { ConfigError } from '../functions/api/config';
import { runHost } from '../functions/api/host';
import { runtimeConfig } from '../web/server/runtime-config';
import { ensureWebDist, webDist as dist } from './web-dist';

/**
 * `npm start`: the built SPA and the API on one port, on PGlite in .data/ unless a database
 * is configured. The API runs exactly as in the image (functions/api/host.ts); this file only
 * adds the page. Being the local runner, it applies migrations at start on any database
 * (MIGRATE_ON_START=false turns that off). Builds the SPA first when web/dist is missing or
 * older than its sources.
 */
let ui;
try {
  ui = runtimeConfig(process.env);
} catch (err) {
  console.error(err instanceof ConfigError ? `Invalid configuration:\n  ${err.message}` : err);
  process.exit(78);
}

try {
  ensureWebDist();
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}

// The page, cached as nginx caches it (web/nginx/nginx.conf.template): hashed assets for a year,
// a missing asset a 404 (never index.html, which would be cached as code), HTML never.
const page = new Hono();
page.get('/config.json', (c) => c.json(ui, 200, { 'Cache-Control': 'no-store' }));
page.use('/assets/*', async (c, next) => {
  await next();
  if (c.res.ok) c.header('Cache-Control', 'public, max-age=31536000, immutable');
});
page.get('/assets/*', serveStatic({ root: dist }), (c) => c.text('Not found', 404));
page.use('*', async (c, next) => {
  await next();
  if (c.res.headers.get('content-type')?.startsWith('text/html')) c.header('Cache-Control', 'no-store');
});
page.use('/*', serveStatic({ root: dist }));
page.get('*', serveStatic({ path: join(dist, 'index.html') }));
page.notFound((c) => c.text('Not found', 404));

runHost({
  defaults: { MIGRATE_ON_START: 'true' },
  site: page.fetch,
  onListening(port, config) {
    const db = config.driver === 'pglite' ? `PGlite in ${config.pgliteDir}` : `${config.driver} database`;
    console.log(`Task app running at http://localhost:${port} (${db}). Press Ctrl+C to stop.`);
  },
});
