import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { ERROR_CODES } from '../functions/api/schemas';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(root + path, 'utf8');

// The error tables in functions/api/README.md are the users' list of codes: derive both sides and compare, so a
// code cannot ship undocumented or a documented one go stale.
it('the API README lists exactly the error codes the API and nginx answer with, with their statuses', () => {
  const readme = read('functions/api/README.md');
  const errors = readme.slice(readme.indexOf('## Errors'), readme.indexOf('## Compatibility with the previous system'));
  const documented = [...new Set([...errors.matchAll(/^\| (\d{3}) `(\w+)` \|/gm)].map(([, status, code]) => `${status} ${code}`))].sort();

  const api = Object.entries(ERROR_CODES).map(([code, status]) => `${status} ${code}`);
  const nginx = [...read('web/nginx/nginx.conf.template').matchAll(/return (\d{3}) '\{[^']*"code":"(\w+)"/g)].map(([, status, code]) => `${status} ${code}`);
  expect(nginx.length).toBeGreaterThan(0);
  expect(documented).toEqual([...new Set([...api, ...nginx])].sort());
});
