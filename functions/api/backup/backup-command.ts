import { parseArgs } from 'node:util';
import { takeBackup } from './backup';
import { databaseConfig, describeBackup, openDatabase, run } from './command';
import { BackupError, exitCodeSummary } from './errors';
import { pushResult } from './report';
import { openStore } from './store';

const USAGE = `usage: npm run backup [-- --reason <word>] [--json]

Takes a backup of the configured database (as the API finds it: DATABASE_URL, DB_*, DB_CREDENTIALS_DIR,
or PGLITE_DIR) and writes it to BACKUP_URI (s3://<bucket>/<prefix> or a local directory).
Prints its id, size, duration and rows per table; --json prints its manifest instead.
${exitCodeSummary('written', ['usage', 'unreachable', 'denied', 'config'])}
A local BACKUP_URI is a path (relative to the working directory) or a file:// URL.`;

run('backup', USAGE, async () => {
  let args;
  try {
    args = parseArgs({ options: { reason: { type: 'string', default: 'manual' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (err) {
    throw new BackupError('usage', (err as Error).message);
  }
  if (args.help) return void console.log(USAGE);
  if (!/^[a-z][a-z-]{0,31}$/.test(args.reason)) throw new BackupError('usage', '--reason is one lowercase word (letters and hyphens)');
  const config = databaseConfig();
  const store = await openStore(process.env.BACKUP_URI);
  const db = await openDatabase(config);
  try {
    const manifest = await takeBackup(db, store, { reason: args.reason, appVersion: config.version });
    console.log(args.json ? JSON.stringify(manifest, null, 2) : describeBackup(manifest, store.location));
    const warning = await pushResult(process.env.PUSHGATEWAY_URL, 'tasks-backup', { durationSeconds: manifest.durationMs / 1000, bytes: manifest.data.bytes });
    if (warning) console.error(`backup: ${warning}`);
  } finally {
    await db.close();
  }
});
