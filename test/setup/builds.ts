import { buildFunctions, isStale } from '../../scripts/build-functions';
import { ensureWebDist } from '../../scripts/web-dist';

/**
 * Builds once, before any test file runs, what several files run: the function bundles
 * (dist/) and the SPA (web/dist, served by `npm start` and put behind nginx). Test files
 * running in parallel would otherwise race to build the same folders.
 */
export default async function setup() {
  if (isStale()) await buildFunctions();
  ensureWebDist(() => undefined);
}
