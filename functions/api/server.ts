import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger } from './logger';
import { createService } from './service';

// Production entry (dist/api/server.mjs): listen at once, connect lazily, drain on SIGTERM.
let config: Config;
try {
  config = loadConfig();
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(78); // EX_CONFIG
}
const log = createLogger(config.logLevel);
const service = createService(config, log);
const since = () => performance.now() / 1000;

const server = serve({ fetch: service.app.fetch, port: config.port }, (info) => {
  service.metrics.startupPhase('listening', since());
  // Process metrics should not wait for traffic: load the library once start-up is quiet.
  setTimeout(() => void service.metrics.load(), 10_000).unref();
  log.info({ port: info.port, driver: config.driver, version: config.version, revision: config.revision, startupMs: Math.round(since() * 1000) }, 'listening');
}) as Server;
server.on('error', (err) => {
  log.fatal({ err: { code: (err as NodeJS.ErrnoException).code, message: err.message } }, 'cannot listen');
  process.exit(1);
});

service.migrateOnStart()?.catch((err) => {
  log.fatal({ err: { code: err?.code, message: err?.message } }, 'start-up migrations failed');
  process.exit(1);
});

/**
 * SIGTERM: fail readiness, stop accepting, let in-flight requests finish (up to the
 * deadline), close the pool, exit 0. Knative's queue-proxy has already drained traffic by
 * the time the signal arrives, so the deadline only guards against stuck requests.
 */
async function shutdown(signal: string) {
  if (service.state.shuttingDown) return;
  service.state.shuttingDown = true;
  log.info({ signal }, 'shutting down');
  const deadline = setTimeout(() => {
    log.warn({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown deadline reached; closing open connections');
    server.closeAllConnections();
  }, config.shutdownTimeoutMs);
  deadline.unref();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  clearTimeout(deadline);
  await service.close().catch((err) => log.warn({ err: { message: err?.message } }, 'closing the database failed'));
  log.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
