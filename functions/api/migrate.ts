import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config';
import { MountedCredentials } from './db/credentials';
import { openDb } from './db';
import { isDatabaseUnavailable } from './errors';
import { createLogger } from './logger';
import { EXIT_CONFIG } from './preflight';
import { takeBackup } from './backup/backup';
import { describeBackup, failure } from './backup/command';
import { openStore } from './backup/store';
import type { Db } from './db';
import type { Config } from './config';
import { ensureAppRole } from './migrations/roles';
import { migrate, migrationsApplied, schemaVersion } from './migrations/runner';

// --help and usage errors first, as every command does (scripts/ops/cli.ts; not imported: this is bundled).
try {
  if (parseArgs({ options: { help: { type: 'boolean', short: 'h' } } }).values.help) {
    process.stdout.write('usage: npm run migrate\n\nApplies the pending SQL migrations to the configured database (README.md, Configuration).\nExit codes: 0 applied or current, 1 failed, 2 usage, 78 configuration.\n');
    process.exit(0);
  }
} catch (err) {
  process.stderr.write(`migrate: ${(err as Error).message}\nRun with --help for usage.\n`);
  process.exit(2);
}

/**
 * `npm run migrate` and the bundled `migrate` entry (the cluster's migration Job). Runs as
 * the owner role; with APP_CREDENTIALS_DIR it also makes sure the app role exists with DML
 * rights only. Waits up to MIGRATE_WAIT_SECONDS for the database to accept connections.
 * With BACKUP_URI set it takes a backup before applying any pending migration, and stops (exit 1,
 * nothing applied) when that backup fails: a migration that rewrites data wrongly can be undone.
 */
async function main() {
  const config = loadConfig({ ...process.env, MIGRATE_ON_START: 'false' });
  const log = createLogger(config.logLevel);
  const waitSeconds = config.migrateWaitSeconds;
  const appDir = process.env.APP_CREDENTIALS_DIR?.trim();
  const db = await openDb(config, log);
  const deadline = Date.now() + waitSeconds * 1000;
  try {
    let backedUp = !process.env.BACKUP_URI?.trim();
    for (let attempt = 1; ; attempt++) {
      try {
        if (!backedUp) backedUp = await backupBeforeMigrating(db, config);
        const result = await migrate(db);
        log.info({ driver: config.driver, applied: result.applied, current: result.current }, result.applied.length ? 'migrations applied' : 'schema is current');
        break;
      } catch (err) {
        // A dropped connection (restart, failover, pg_terminate_backend) rolls the transaction
        // back, so the whole run is simply tried again.
        if (!isDatabaseUnavailable(err) || Date.now() > deadline) throw err;
        const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
        const { code, message } = err as { code?: string; message?: string };
        // One plain line per attempt: this is what a person watching the Job's log reads.
        console.error(`migrate: attempt ${attempt} failed (${code ? `${code} ` : ''}${message}); retrying in 2 s, ${left} s left`);
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    if (appDir) {
      const steps = await ensureAppRole(db, new MountedCredentials(appDir).read());
      log.info({ steps }, 'app role checked');
    }
  } finally {
    await db.close();
  }
}

/**
 * The backup before migrating, when something is pending and there is a schema to keep. Returns
 * true once done or not needed; a database error is thrown for the retry loop; any other failure
 * of the backup ends the run.
 */
async function backupBeforeMigrating(db: Db, config: Config): Promise<boolean> {
  if ((await schemaVersion(db)) === null || (await migrationsApplied(db))) return true;
  try {
    const store = await openStore(process.env.BACKUP_URI);
    const manifest = await takeBackup(db, store, { reason: 'before-migration', appVersion: config.version });
    console.error(`migrate: backup before migrating:\n${describeBackup(manifest, store.location)}`);
    return true;
  } catch (err) {
    if (isDatabaseUnavailable(err)) throw err;
    console.error(`migrate: the backup before migrating failed, so no migration was applied: ${failure(err).message}`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? `Invalid configuration:\n  ${err.message}` : `migrate failed: ${err?.code ? `${err.code} ` : ''}${err?.message ?? err}`);
  // 78 like every host and command here: a Job's or script's caller can tell a wrong setting from a failure.
  process.exit(err instanceof ConfigError ? EXIT_CONFIG : 1);
});
