/**
 * Probe and metrics paths. /healthz and /readyz are this API's; /health, /live and /ready are the
 * previous system's backend's, kept as aliases so what watched them keeps working.
 */
export const PROBE_PATHS = ['/healthz', '/readyz', '/metrics', '/health', '/live', '/ready'] as const;

/**
 * Paths that belong to the API under every host: `/api` and everything under it (any method,
 * with or without a trailing slash) and PROBE_PATHS. Hosts that also serve the page (`npm start`,
 * `npm run dev`) hand these to the API unchanged and only the rest to the page. Matches a path
 * with or without a trailing slash and its query string.
 */
export const API_PATH = new RegExp(`^/(api([/?]|$)|(${PROBE_PATHS.map((p) => p.slice(1)).join('|')})/?([?]|$))`);
