import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { compress } from 'hono/compress';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { databaseLabel, type Config } from '../functions/api/config';
import { runHost } from '../functions/api/host';
import { localLogDestination } from '../functions/api/local-log';
import { createLogger, readByPerson, stdoutLog } from '../functions/api/logger';
import { exitOnFatal, preflight } from '../functions/api/preflight';
import { warnOnUnsupportedNode } from '../web/server/node-engines';
import { runtimeConfig } from '../web/server/runtime-config';
import { noFlags } from './ops/cli';
import { ensureWebDist, webDist as dist } from './web-dist';

/**
 * `npm start`: the built SPA and the API on one port, on PGlite in .data/ unless a database
 * is configured. The API runs exactly as in the image (functions/api/host.ts); this file only
 * adds the page and the lines a person reads. Being the local runner, it applies migrations at
 * start on any database (MIGRATE_ON_START=false turns that off). Builds the SPA first when
 * web/dist is missing or older than its sources.
 *
 * What it prints, in order: one progress line, then the banner once the app can serve tasks
 * (never before: not while the database is created, migrated or unreachable).
 */
noFlags(
  process.argv.slice(2),
  'start',
  `usage: npm start

Serves the page and the API on one port (PORT, default 3000), on PGlite in PGLITE_DIR (default
.data/pglite) unless DATABASE_URL or DB_* name a database; applies migrations at start. Configured
by environment variables only (README.md, Configuration). Ctrl+C stops it; a second Ctrl+C at once.

Exit codes: 0 stopped, 2 usage, 65 damaged or foreign data directory, 66 database does not exist,
69 port in use, 75 data directory in use, 77 port not allowed, 78 invalid configuration,
1 any other reason it cannot start, 130 stopped by a second Ctrl+C.
`,
);

// A Node.js outside package.json's engines: one line on stderr (plain on a terminal, else a JSON
// warn line, the rule below), then the start goes on.
warnOnUnsupportedNode(process.version, !readByPerson(process.stdout));

const defaults = { MIGRATE_ON_START: 'true' };
const { config, page: ui } = preflight(process.env, { defaults, page: (env, c) => runtimeConfig(env, { apiSleeps: false, embeddedDatabase: c.driver === 'pglite' }) });

// The lines a person reads follow the logs' one rule (logger.ts's readByPerson): plain text on a
// terminal, JSON log lines (`level`, `msg`) on a pipe or in a file, whatever LOG_LEVEL says, in
// order with the log lines (the same stdout queue). Fatal lines follow it on stderr (preflight.ts).
const forPerson = readByPerson(process.stdout);
const lines = forPerson ? undefined : createLogger('info', stdoutLog());
const say = (msg: string) => (lines ? lines.info(msg) : console.log(msg));

try {
  ensureWebDist(say);
} catch (err) {
  exitOnFatal(err);
}

const progress = progressLine(config);

// The page, cached as nginx caches it (web/nginx/nginx.conf.template): hashed assets for a year,
// a missing asset a 404 (never index.html, which would be cached as code), HTML never.
const page = new Hono();
page.use('*', compressAsNginx());
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
  config,
  site: page.fetch,
  logDestination: localLogDestination(),
  onReady(port) {
    say(`Task app running at http://localhost:${port} (${databaseLabel(config)}). Press Ctrl+C to stop.`);
  },
  onStopping(_signal, ready) {
    say(
      ready
        ? 'Stopping: finishing the requests in flight, then closing the database (Ctrl+C again quits at once)…'
        : 'Stopping before the start finished: nothing half-made is kept, the next start begins again (Ctrl+C again quits at once)…',
    );
  },
});
// Printed once runHost has its signal handlers: from here on, Ctrl+C is answered by the lines above.
say(progress);

/**
 * gzip for what nginx compresses, read from the image's own configuration (web/nginx/nginx.conf.template:
 * `gzip_types`, `gzip_min_length`) so the two cannot drift; text/html is always compressed by nginx
 * (ngx_http_gzip_module, gzip_types). hono's compress middleware adds `Vary: Accept-Encoding`.
 */
function compressAsNginx() {
  const conf = readFileSync(new URL('../web/nginx/nginx.conf.template', import.meta.url), 'utf8');
  const types = new Set(['text/html', ...(/^\s*gzip_types\s+([^;]+);/m.exec(conf)?.[1]?.trim().split(/\s+/) ?? [])]);
  const threshold = Number(/^\s*gzip_min_length\s+(\d+);/m.exec(conf)?.[1] ?? 20);
  return compress({ encoding: 'gzip', threshold, contentTypeFilter: (type) => types.has(type.split(';')[0]!.trim().toLowerCase()) });
}

/** The line before the banner: what this start is doing while the person waits. */
function progressLine(c: Config): string {
  if (c.driver === 'pglite' && !c.pgliteDir.startsWith('memory://') && !existsSync(join(c.pgliteDir, 'PG_VERSION'))) {
    return `Creating the local database in ${c.pgliteDir} (first start only)…`;
  }
  return `Starting (${databaseLabel(c)})…`;
}
