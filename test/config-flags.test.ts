import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../functions/api/config';
import { FLAG_SPELLINGS, flagMessage } from '../functions/api/env';
import { runtimeConfig } from '../web/server/runtime-config';
import { entrypoint, tempDir } from './support/nginx';

// One table of flag spellings, applied alike by the API, the page's config.json (npm start,
// npm run dev) and the nginx entrypoint (the image).
const scratch = tempDir('tasks-flags-');
const html = join(scratch, 'html');
mkdirSync(html);
writeFileSync(join(html, 'index.html'), '<!doctype html><div id="app"></div>');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let runs = 0;
/** Runs the entrypoint up to the point where it would start nginx; returns config.json or the error. */
function entrypointFlags(env: Record<string, string>) {
  const runtime = join(scratch, `run-${runs++}`);
  const r = spawnSync('sh', [entrypoint], {
    env: { PATH: process.env.PATH ?? '', HTML_DIR: html, RUNTIME_DIR: runtime, NGINX_BIN: 'true', ...env },
    encoding: 'utf8',
  });
  if (r.status !== 0) return { error: r.stderr.trim() };
  const json = JSON.parse(readFileSync(join(runtime, 'config.json'), 'utf8'));
  return { edit: json.featureEditTask as boolean, del: json.featureDeleteTask as boolean };
}

const cases: [string, boolean][] = [
  ...FLAG_SPELLINGS.true.flatMap((s) => [[s, true], [s.toUpperCase(), true], [` ${s} `, true]] as [string, boolean][]),
  ...FLAG_SPELLINGS.false.flatMap((s) => [[s, false], [s.toUpperCase(), false], [` ${s} `, false]] as [string, boolean][]),
  ['', true], // unset or empty: the default, on
];

describe('feature flags mean the same everywhere', () => {
  it.each(cases)('%j → %s in the API, config.json and the nginx entrypoint', (value, expected) => {
    const env = { FEATURE_EDIT_TASK: value, FEATURE_DELETE_TASK: value };
    expect(loadConfig(env).features).toEqual({ editTask: expected, deleteTask: expected });
    const ui = runtimeConfig(env);
    expect([ui.featureEditTask, ui.featureDeleteTask]).toEqual([expected, expected]);
    expect(entrypointFlags(env)).toEqual({ edit: expected, del: expected });
  });

  it.each(['maybe', 'tru', '2', 'y', 'enabled', '"true"'])('%j is refused by all three with the same message', (value) => {
    const message = flagMessage('FEATURE_EDIT_TASK');
    expect(() => loadConfig({ FEATURE_EDIT_TASK: value })).toThrow(message);
    expect(() => runtimeConfig({ FEATURE_EDIT_TASK: value })).toThrow(message);
    expect(entrypointFlags({ FEATURE_EDIT_TASK: value }).error).toBe(`entrypoint: ${message}`);
  });
});
