/**
 * The SPA's runtime configuration, served as `GET /config.json`.
 *
 * One definition for every way the app is served: the Vite dev server and `npm start` call
 * `runtimeConfig(process.env)`; the nginx image writes the same keys from the same variables in
 * `web/nginx/entrypoint.sh` (change both together).
 */
export interface RuntimeConfig {
  /** Base URL of the task API as the browser sees it; same origin by default. */
  apiUrl: string;
  featureEditTask: boolean;
  featureDeleteTask: boolean;
  appVersion: string;
}

export type Env = Record<string, string | undefined>;

/** The seed's flag semantics: "true" or "false" (any case); unset or empty means enabled. */
export function parseFlag(name: string, value: string | undefined): boolean {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'true') return true;
  if (v === 'false') return false;
  throw new Error(`${name} must be "true" or "false", got ${JSON.stringify(value)}`);
}

export function runtimeConfig(env: Env): RuntimeConfig {
  return {
    apiUrl: env.API_URL?.trim() || '/api',
    featureEditTask: parseFlag('FEATURE_EDIT_TASK', env.FEATURE_EDIT_TASK),
    featureDeleteTask: parseFlag('FEATURE_DELETE_TASK', env.FEATURE_DELETE_TASK),
    // npm sets npm_package_version for `npm run …`, so `npm start` and `npm run dev` report the package's.
    appVersion: env.APP_VERSION?.trim() || env.npm_package_version || 'dev',
  };
}
