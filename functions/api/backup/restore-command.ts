import { parseArgs } from 'node:util';
import { MountedCredentials } from '../db/credentials';
import { ensureAppRole } from '../migrations/roles';
import { takeBackup } from './backup';
import { databaseConfig, describeBackup, formatBytes, openDatabase, run } from './command';
import { BackupError, exitCodeSummary } from './errors';
import { pushResult } from './report';
import { restoreBackup } from './restore';
import { openStore } from './store';

const USAGE = `usage: npm run restore -- --from <id|latest> [--replace] [--check] [--no-migrate]
       npm run restore -- --list

Restores a backup from BACKUP_URI into the configured database (as the API finds it: DATABASE_URL,
DB_*, DB_CREDENTIALS_DIR, or PGLITE_DIR). The backup is checked (size, SHA-256, every row) before
anything is written. A database that holds tasks is refused unless --replace, which takes a safety
backup first. --check is the restore check: the database must be empty (a scratch one), the restored
tables are compared with the backup's record, and no newer migration is applied.
--no-migrate leaves the restored schema as the backup had it (the API applies newer migrations at its
start when MIGRATE_ON_START is on; npm run migrate applies them).
${exitCodeSummary('done', ['usage', 'not_found', 'corrupt', 'not_empty', 'incompatible', 'unreachable', 'denied', 'config'])}`;

run('restore', USAGE, async () => {
  let args;
  try {
    args = parseArgs({
      options: {
        from: { type: 'string' },
        list: { type: 'boolean' },
        replace: { type: 'boolean' },
        check: { type: 'boolean' },
        'no-migrate': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    throw new BackupError('usage', (err as Error).message);
  }
  if (args.help) return void console.log(USAGE);
  if (args.list) {
    if (args.from || args.replace || args.check || args['no-migrate']) throw new BackupError('usage', '--list takes no other option');
    const store = await openStore(process.env.BACKUP_URI);
    const backups = await store.list();
    if (!backups.length) return void console.log(`no backups in ${store.location}`);
    const now = Date.now();
    for (const b of backups) {
      console.log(`${b.id}  ${age(now - b.takenAt.getTime()).padStart(7)} ago  ${(b.bytes === undefined ? '-' : formatBytes(b.bytes)).padStart(10)}${b.complete ? '' : '  incomplete'}`);
    }
    return;
  }
  if (!args.from) throw new BackupError('usage', '--from <id|latest> is required');
  if (args.check && args.replace) throw new BackupError('usage', '--check restores into an empty scratch database; it takes no --replace');

  const started = Date.now();
  const config = databaseConfig();
  const store = await openStore(process.env.BACKUP_URI);
  const db = await openDatabase(config);
  try {
    const result = await restoreBackup(db, store, {
      from: args.from,
      replace: args.replace,
      migrate: !(args.check || args['no-migrate']),
      safetyBackup: async () => {
        const safety = await takeBackup(db, store, { reason: 'before-restore', appVersion: config.version });
        console.log(`safety backup of the database before replacing it:\n${describeBackup(safety, store.location)}`);
        return safety;
      },
    });
    const m = result.manifest;
    const width = Math.max(...Object.keys(result.restored).map((t) => t.length));
    console.log(
      [
        `${args.check ? 'restore check passed' : 'restored'}: backup ${m.id} (snapshot at ${m.snapshotAt}, schema ${m.schemaVersion}) in ${((Date.now() - started) / 1000).toFixed(2)} s`,
        ...Object.entries(result.restored).map(([t, r]) => `  ${t.padEnd(width)}  ${String(r.rows).padStart(9)} rows, SHA-256 ${r.sha256.slice(0, 12)}… as recorded`),
        ...(result.migrated.length ? [`  then applied ${result.migrated.join(', ')}`] : []),
      ].join('\n'),
    );
    const appDir = process.env.APP_CREDENTIALS_DIR?.trim();
    if (appDir && !args.check) console.log(`  ${(await ensureAppRole(db, new MountedCredentials(appDir).read())).join('; ')}`);
    if (args.check) {
      const warning = await pushResult(process.env.PUSHGATEWAY_URL, 'tasks-restore-check', { durationSeconds: (Date.now() - started) / 1000 });
      if (warning) console.error(`restore: ${warning}`);
    }
  } finally {
    await db.close();
  }
});

/** 90_000 → "1m", 7_200_000 → "2h", 3 days → "3d". */
function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}
