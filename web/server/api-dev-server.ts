import devServer from '@hono/vite-dev-server';
import nodeAdapter from '@hono/vite-dev-server/node';
import type { Server } from 'node:http';
import type { Plugin } from 'vite';
import { answerClientErrors } from '../../functions/api/client-errors.ts';
import { answerHalfClosedClients } from '../../functions/api/half-close.ts';
import { API_PATH } from '../../functions/api/paths.ts';

/**
 * The API functions on the Vite dev server's port. The API's paths (functions/api/paths.ts
 * API_PATH: /api and below, the probes, /metrics) go to the module's default export (a Hono app);
 * everything else stays with Vite. The module is loaded through Vite's SSR module graph, so an
 * edit to it, or to anything it imports, is live on the next request.
 *
 * What Node's parser refuses on Vite's server is answered as the API's own server answers it
 * (functions/api/client-errors.ts): JSON, and never in the place of a request that already runs;
 * a client that half-closes after sending gets its answer (functions/api/half-close.ts).
 */
export function apiDevServer(entry: string): Plugin[] {
  return [
    devServer({
      entry,
      adapter: nodeAdapter,
      injectClientScript: false,
      // The plugin has no include option: exclude everything that is not an API path.
      exclude: [new RegExp(`^(?!${API_PATH.source.slice(1)})`)],
    }),
    {
      name: 'tasks:client-errors',
      configureServer(server) {
        if (!server.httpServer) return;
        // Vite's own handler (set before this hook runs) writes a bare status line at once, in the
        // place of any request still running on the connection: this one replaces it.
        server.httpServer.removeAllListeners('clientError');
        answerClientErrors(server.httpServer as Server);
        // A client that half-closes after sending still gets its answer, as from the API's own server.
        answerHalfClosedClients(server.httpServer as Server);
      },
    },
  ];
}
