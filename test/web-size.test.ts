import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it, onTestFinished } from 'vitest';
import { buildWeb, tempDir } from './support/nginx';

/** The budget for the whole first load: JS + CSS, gzip. */
const BUDGET = 35 * 1024;

describe('first-load size', () => {
  it('keeps all JS and CSS of the built SPA within 35 KB gzip', async () => {
    const scratch = tempDir('tasks-size-test-');
    onTestFinished(() => rmSync(scratch, { recursive: true, force: true }));
    const dist = await buildWeb(join(scratch, 'dist'));
    const html = readFileSync(join(dist, 'index.html'), 'utf8');
    const referenced = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    const all = readdirSync(join(dist, 'assets'))
      .filter((f) => /\.(js|css)$/.test(f))
      .map((f) => `assets/${f}`);
    expect(referenced.length).toBeGreaterThan(0);
    // No lazy chunks today, so every JS/CSS file is part of the first load; count them all either way.
    expect(all.sort()).toEqual([...new Set(referenced)].sort());

    // Level 6 is what nginx sends (gzip_comp_level 6 in web/nginx/nginx.conf.template).
    const files = all.map((file) => {
      const bytes = readFileSync(join(dist, file));
      return { file, raw: bytes.length, gzip: gzipSync(bytes, { level: 6 }).length };
    });
    const total = files.reduce((sum, f) => sum + f.gzip, 0);
    mkdirSync('test-results', { recursive: true });
    writeFileSync('test-results/web-size.json', JSON.stringify({ budget: BUDGET, total, files }, null, 2) + '\n');
    // One entry chunk and no lazy ones: Vite's modulepreload polyfill would have nothing to preload.
    expect(html).not.toContain('modulepreload');
    for (const file of all.filter((f) => f.endsWith('.js'))) expect(readFileSync(join(dist, file), 'utf8')).not.toContain('modulepreload');
    expect(total, `first load is ${(total / 1024).toFixed(1)} KB gzip`).toBeLessThanOrEqual(BUDGET);
  });

  it('uses no event modifiers in templates: their helpers (withModifiers, withKeys and its key table) would join the first load', () => {
    const vueFiles = (readdirSync('web/src', { recursive: true }) as string[])
      .filter((f) => f.endsWith('.vue'))
      .map((f) => join('web/src', f));
    expect(vueFiles.length).toBeGreaterThan(0);
    const uses = vueFiles.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/(?<=\s)(?:@|v-on:)[\w-]+\.[\w.-]+/g)].map((m) => `${relative('.', file)}: ${m[0]}`),
    );
    expect(uses).toEqual([]);
  });
});
