import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import vue from '@vitejs/plugin-vue';
import { apiDevServer } from './server/api-dev-server.ts';
import { runtimeConfig } from './server/runtime-config.ts';
import { loadConfig } from '../functions/api/config.ts';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** `GET /config.json` from the environment, exactly as `npm start` and the nginx image serve it. */
function runtimeConfigJson(): Plugin {
  return {
    name: 'tasks:runtime-config',
    configureServer(server) {
      // Read once, so a bad variable stops the server at start with a message naming it.
      const body = JSON.stringify(runtimeConfig(process.env));
      server.middlewares.use('/config.json', (_req, res) => {
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('Cache-Control', 'no-store');
        res.end(body);
      });
    },
  };
}

export default defineConfig(({ command, mode }) => ({
  root: here('.'),
  // PORT as for `npm start` and the image (parsed by the API's config); Vite's 5173 when unset.
  server: process.env.PORT?.trim() ? { port: loadConfig(process.env).port, strictPort: true } : undefined,
  plugins: [
    vue(),
    runtimeConfigJson(),
    // The API functions at /api in development (not in component tests).
    command === 'serve' && mode !== 'test' && apiDevServer(here('../functions/api/dev.ts')),
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
