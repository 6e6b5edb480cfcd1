import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { loadConfig } from './config';
import { createLogger } from './logger';
import { createService } from './service';

const scratch = mkdtempSync(join(tmpdir(), 'tasks-service-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// A process that exits next (host.ts's shutdown) does not wait for a PGlite open under way: before,
// Ctrl+C during the open of an existing data directory waited for it to finish. What the open
// makes is still closed once it finishes, and the directory's next open works.
it('close({ abandonOpen }) returns before an open under way finishes, closes it after, and the directory opens again', async () => {
  const config = loadConfig({ PGLITE_DIR: join(scratch, 'pglite') });
  const log = createLogger('silent');
  const made = createService(config, log);
  await made.migrateOnStart();
  await made.close();

  const stopped = createService(config, log);
  const opening = stopped.db();
  const first = await Promise.race([stopped.close({ abandonOpen: true }).then(() => 'closed'), opening.then(() => 'opened')]);
  expect(first).toBe('closed');
  const abandoned = await opening;
  // The open that finished after the close is closed too: the next service gets the directory.
  await expect.poll(() => abandoned.query('SELECT 1').then(() => 'open', () => 'closed'), { timeout: 30_000 }).toBe('closed');

  const next = createService(config, log);
  await next.migrateOnStart();
  expect(await (await next.db()).query<{ n: number }>('SELECT 1 AS n')).toEqual([{ n: 1 }]);
  await next.close();
});
