import { parseFlag } from '../../functions/api/env.ts';
import { packageVersion } from '../../functions/api/version.ts';

/**
 * The SPA's runtime configuration, served as `GET /config.json`.
 *
 * One definition for every way the app is served: the Vite dev server and `npm start` call
 * `runtimeConfig(process.env)`; the nginx image writes the same keys from the same variables in
 * `web/nginx/entrypoint.sh` (change both together). Flags follow the API's rules
 * (functions/api/env.ts), so the page and the API never disagree about a feature.
 */
export interface RuntimeConfig {
  /** Base URL of the task API as the browser sees it; same origin by default. */
  apiUrl: string;
  featureEditTask: boolean;
  featureDeleteTask: boolean;
  appVersion: string;
  /**
   * Whether the API can be asleep (scaled to zero) when the page asks, so a slow first answer means
   * "waking up": true behind the nginx image (the cluster's Knative Service scales to zero), false
   * under `npm start` and `npm run dev`, where the API is in the page's own process.
   */
  apiSleeps: boolean;
  /**
   * Whether the API's database is embedded in its own process (PGlite: a slow first answer means
   * it is being opened) rather than a server it connects to (PostgreSQL, Neon): true under
   * `npm start` and `npm run dev` with no database configured, false otherwise (the nginx image's
   * API is always on a server).
   */
  embeddedDatabase: boolean;
}

export type Env = Record<string, string | undefined>;

/**
 * @param host what the serving host knows about the API: `apiSleeps` (default false, the local
 *   hosts) and `embeddedDatabase` (default false; the local hosts say whether their API's driver is PGlite)
 * @throws ConfigError naming the variable when a flag has a value outside FLAG_SPELLINGS.
 */
export function runtimeConfig(env: Env, host: { apiSleeps?: boolean; embeddedDatabase?: boolean } = {}): RuntimeConfig {
  return {
    apiUrl: env.API_URL?.trim() || '/api',
    featureEditTask: parseFlag('FEATURE_EDIT_TASK', env.FEATURE_EDIT_TASK, true),
    featureDeleteTask: parseFlag('FEATURE_DELETE_TASK', env.FEATURE_DELETE_TASK, true),
    // The same version the API reports (functions/api/version.ts), however the host was started.
    appVersion: env.APP_VERSION?.trim() || packageVersion(),
    apiSleeps: host.apiSleeps ?? false,
    embeddedDatabase: host.embeddedDatabase ?? false,
  };
}
