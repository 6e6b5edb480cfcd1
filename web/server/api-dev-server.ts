import devServer from '@hono/vite-dev-server';
import nodeAdapter from '@hono/vite-dev-server/node';
import { API_PATH } from '../../functions/api/paths.ts';

/**
 * The API functions on the Vite dev server's port. The API's paths (functions/api/paths.ts
 * API_PATH: /api and below, the probes, /metrics) go to the module's default export (a Hono app);
 * everything else stays with Vite. The module is loaded through Vite's SSR module graph, so an
 * edit to it, or to anything it imports, is live on the next request.
 */
export function apiDevServer(entry: string) {
  return devServer({
    entry,
    adapter: nodeAdapter,
    injectClientScript: false,
    // The plugin has no include option: exclude everything that is not an API path.
    exclude: [new RegExp(`^(?!${API_PATH.source.slice(1)})`)],
  });
}
