/**
 * Backup and restore at size: N tasks (default 100,000 and 1,000,000) in a fresh database on the
 * machine's PostgreSQL, `dist/api/backup.mjs` to a local directory, then `dist/api/restore.mjs` into
 * another fresh database. Prints wall time (median of `--runs`, default 3) and the backup's size;
 * `--save` writes them as the `backups` section of bench/results.md (results-sections.ts).
 *
 *   npx tsx bench/backup.ts [--tasks 100000,1000000] [--runs 3] [--save]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { exitCode, runCommandLine } from '../scripts/ops/cli';
import { sectionMarkers, withSection } from './results-sections';

const root = new URL('..', import.meta.url).pathname;
const admin = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function sql(url: string, text: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}
const dbUrl = (name: string) => Object.assign(new URL(admin), { pathname: `/${name}` }).toString();

function timed(bundle: string, args: string[], env: Record<string, string>): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [join(root, 'dist/api', bundle), ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bundle} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const help = `Backup and restore time and size at N tasks, with the bundles, on the machine's PostgreSQL.

Usage: npx tsx bench/backup.ts [--tasks 100000,1000000] [--runs 3] [--save]

  --save   write the table as the backups section of bench/results.md
`;

runCommandLine(
  { name: 'bench/backup', help, flags: { tasks: { type: 'string', default: '100000,1000000' }, runs: { type: 'string', default: '3' }, save: { type: 'boolean' } } },
  async (values) => {
    const loadAtStart = loadavg()[0]!;
    const rows: string[] = [];
    for (const n of values.tasks.split(',').map(Number)) {
      const source = `bench_backup_${n}`;
      await sql(admin, `DROP DATABASE IF EXISTS ${source}`);
      await sql(admin, `CREATE DATABASE ${source}`);
      spawnSync(process.execPath, [join(root, 'dist/api/migrate.mjs')], { env: { ...process.env, DATABASE_URL: dbUrl(source) } });
      await sql(dbUrl(source), `INSERT INTO main_table (task, done) SELECT 'task number ' || g || ' with some text to look like a real one', g % 3 = 0 FROM generate_series(1, ${n}) g`);
      const dir = mkdtempSync(join(tmpdir(), 'tasks-bench-backup-'));
      const backups: number[] = [];
      const restores: number[] = [];
      let size = 0;
      for (let run = 0; run < Number(values.runs); run++) {
        const out = join(dir, String(run));
        backups.push(timed('backup.mjs', [], { DATABASE_URL: dbUrl(source), BACKUP_URI: out }));
        size = Number(spawnSync('du', ['-sb', out], { encoding: 'utf8' }).stdout.split('\t')[0]);
        const target = `bench_restore_${n}`;
        await sql(admin, `DROP DATABASE IF EXISTS ${target}`);
        await sql(admin, `CREATE DATABASE ${target}`);
        restores.push(timed('restore.mjs', ['--from', 'latest'], { DATABASE_URL: dbUrl(target), BACKUP_URI: out }));
        await sql(admin, `DROP DATABASE ${target}`);
      }
      rmSync(dir, { recursive: true, force: true });
      await sql(admin, `DROP DATABASE ${source}`);
      rows.push(`| ${n.toLocaleString('en')} | ${(median(backups) / 1000).toFixed(1)} s | ${(size / 2 ** 20).toFixed(1)} MiB | ${(median(restores) / 1000).toFixed(1)} s |`);
      console.log(rows.at(-1));
    }
    const pgVersion = ((await sql(admin, 'SHOW server_version'))[0] as { server_version: string }).server_version;
    const { start, end } = sectionMarkers('backups', 'npx tsx bench/backup.ts --save');
    const section = [
      start,
      '## Backups',
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, PostgreSQL ${pgVersion} on 127.0.0.1, load average ${loadAtStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}: the backup and restore bundles with a local directory as the store, median of ${values.runs} runs.`,
      '',
      '| tasks | backup | size (gzip) | restore (checked, loaded, read back) |',
      '| ---: | ---: | ---: | ---: |',
      ...rows,
      end,
    ].join('\n');
    if (values.save) {
      const results = new URL('./results.md', import.meta.url);
      writeFileSync(results, withSection(readFileSync(results, 'utf8'), 'backups', section));
      console.log('written to bench/results.md');
    } else {
      console.log(`\n${section}\n\nnot saved (--save writes it into bench/results.md)`);
    }
    return exitCode.ok;
  },
);
