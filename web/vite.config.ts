import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import vue from '@vitejs/plugin-vue';
import { gzipAsync } from '@gfx/zopfli';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { apiDevServer } from './server/api-dev-server.ts';
import { warnOnUnsupportedNode } from './server/node-engines.ts';
import { runtimeConfig, type RuntimeConfig } from './server/runtime-config.ts';
import type { Config } from '../functions/api/config.ts';
import { preflight } from '../functions/api/preflight.ts';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * `npm run dev` starts as the other hosts do (functions/api/host.ts): a bad variable stops it with
 * exit 78 and a message naming the variable, a PGlite directory another process holds with exit 75,
 * both before Vite listens.
 */
function devConfig(): { config: Config; page: RuntimeConfig } {
  return preflight(process.env, { page: pageConfig });
}

/** The page's config.json under `npm run dev`: the API is in this process, on the configured driver. */
const pageConfig = (env: Record<string, string | undefined>, config: Config): RuntimeConfig => runtimeConfig(env, { embeddedDatabase: config.driver === 'pglite' });

/**
 * `GET /config.json` from the environment, exactly as `npm start` and the nginx image serve it:
 * `page` is what devConfig read; without it (component tests) the environment is read here.
 */
function runtimeConfigJson(page?: RuntimeConfig): Plugin {
  return {
      name: 'tasks:runtime-config',
      configureServer(server) {
        // Read once (devConfig has checked it), the same for every request.
        const body = JSON.stringify(page ?? runtimeConfig(process.env));
        server.middlewares.use('/config.json', (_req, res) => {
          res.setHeader('Content-Type', 'application/json');
          res.setHeader('Cache-Control', 'no-store');
          res.end(body);
        });
      },
  };
}

/**
 * A `.gz` beside every built page file (HTML, JS, CSS), compressed with Zopfli: nginx sends it as it
 * is (`gzip_static on`), about 3 % smaller than its own gzip at level 6, at no cost per request.
 * Same bytes once unzipped, so a browser without gzip still gets the file itself.
 */
function precompressed(): Plugin {
  return {
    name: 'tasks:precompressed',
    apply: 'build',
    async writeBundle(options, bundle) {
      const dir = options.dir!;
      const files = Object.keys(bundle).filter((name) => /\.(?:html|js|css)$/.test(name));
      await Promise.all(
        files.map(async (name) => writeFile(join(dir, `${name}.gz`), await gzipAsync(await readFile(join(dir, name)), { numiterations: 15 }))),
      );
    },
  };
}

/**
 * Type errors in `npm run dev`, in the browser's overlay and the terminal (vite-plugin-checker: tsc
 * over the root project, which holds the API's routes, and vue-tsc over the page), checked in a
 * worker thread so hot reload does not wait for them. Only for a person at a terminal: piped
 * (the tests' dev servers, CI) it would cost a full type-check per server; `npm run typecheck`
 * is the same check once.
 */
async function typeErrors(): Promise<Plugin | false> {
  if (!process.stdout.isTTY) return false;
  const { checker } = await import('vite-plugin-checker');
  return checker({
    typescript: { root: here('..'), tsconfigPath: 'tsconfig.json' },
    vueTsc: { root: here('.'), tsconfigPath: 'tsconfig.app.json' },
    enableBuild: false,
  }) as Plugin;
}

export default defineConfig(async ({ command, mode }) => {
  const dev = command === 'serve' && mode !== 'test';
  // `npm run dev` on a Node.js outside package.json's engines: one line on stderr, then it goes on.
  if (dev) warnOnUnsupportedNode();
  const { config, page } = dev ? devConfig() : { config: undefined, page: undefined };
  return {
    root: here('.'),
    server: dev
      ? {
          // PORT as for `npm start` and the image; Vite's 5173 when unset.
          ...(process.env.PORT?.trim() ? { port: config!.port, strictPort: true } : {}),
          // Same origin only, as the API decides (CORS_ORIGINS): Vite must not answer preflights for it.
          cors: false,
        }
      : undefined,
    plugins: [
      vue(),
      runtimeConfigJson(page),
      precompressed(),
      // The API functions at /api in development (not in component tests).
      dev && apiDevServer(here('../functions/api/dev.ts')),
      dev && (await typeErrors()),
    ],
    define: {
      // Smaller Vue runtime: the app uses only the Composition API and never ships devtools hooks.
      __VUE_OPTIONS_API__: 'false',
      __VUE_PROD_DEVTOOLS__: 'false',
      __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
    },
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      target: 'es2022',
      // There are no lazy chunks, so the modulepreload polyfill would have nothing to preload.
      modulePreload: { polyfill: false },
    },
  };
});
