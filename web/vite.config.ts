import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import vue from '@vitejs/plugin-vue';
import devServer from '@hono/vite-dev-server';
import nodeAdapter from '@hono/vite-dev-server/node';
import { runtimeConfig } from './server/runtime-config.ts';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** `GET /config.json` from the environment, exactly as `npm start` and the nginx image serve it. */
function runtimeConfigJson(): Plugin {
  return {
    name: 'tasks:runtime-config',
    configureServer(server) {
      server.middlewares.use('/config.json', (_req, res) => {
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('Cache-Control', 'no-store');
        res.end(JSON.stringify(runtimeConfig(process.env)));
      });
    },
  };
}

export default defineConfig(({ command, mode }) => ({
  root: here('.'),
  plugins: [
    vue(),
    runtimeConfigJson(),
    // The API functions on the same port in development. Everything that is not /api goes to Vite.
    // Loaded through Vite's SSR module graph, so an edited route is live on the next request.
    command === 'serve' &&
      mode !== 'test' &&
      devServer({
        entry: here('../functions/api/dev.ts'),
        adapter: nodeAdapter,
        injectClientScript: false,
        exclude: [/^(?!\/api(\/|$|\?)).*/],
      }),
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
  },
}));
