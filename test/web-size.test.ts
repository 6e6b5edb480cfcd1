import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join, relative } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startApi } from './support/api';
import { launchChromium } from './support/browser';
import { buildWeb, startNginx, tempDir } from './support/nginx';

/** The budget for the whole first load, as sent (gzip): 35 KB. Measured: 35,275 B (web/README.md). */
const BUDGET = 35 * 1024;

/** Body bytes as they come off the wire (no decoding), with the Content-Encoding nginx chose. */
function wireBody(url: string): Promise<{ bytes: number; encoding: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { 'Accept-Encoding': 'gzip, deflate, br' } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ bytes, encoding: String(res.headers['content-encoding'] ?? 'identity') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('first-load size', () => {
  it('keeps every byte a first visit of / fetches for the page, as nginx sends it, within 35 KB', async () => {
    const scratch = tempDir('tasks-size-test-');
    onTestFinished(() => rmSync(scratch, { recursive: true, force: true }));
    const [dist, api, browser] = await Promise.all([buildWeb(join(scratch, 'dist')), startApi(), launchChromium()]);
    onTestFinished(async () => {
      await api.stop();
    });
    onTestFinished(() => browser.close());
    const nginx = await startNginx({ htmlDir: dist, apiUpstream: api.url });
    onTestFinished(() => nginx.stop());

    // A first visit in Chromium (fresh profile, empty cache), until the page is usable and the
    // network is quiet. Every answer for the page counts at its transferred body size; the API's
    // own answers (/api/...) are data, not the page, and grow with the list.
    const page = await browser.newPage();
    const fetched: Promise<{ path: string; bytes: number; encoding: string }>[] = [];
    page.on('requestfinished', (req) => {
      const path = new URL(req.url()).pathname;
      if (/^\/api(\/|$)/.test(path)) return;
      fetched.push(
        (async () => {
          const [sizes, res] = await Promise.all([req.sizes(), req.response()]);
          return { path, bytes: sizes.responseBodySize, encoding: (await res?.allHeaders())?.['content-encoding'] ?? 'identity' };
        })(),
      );
    });
    await page.goto(nginx.url);
    await page.getByText('No tasks yet. Add one above.').waitFor();
    await page.waitForLoadState('networkidle');
    const files = new Map((await Promise.all(fetched)).map((f) => [f.path, f]));

    // The favicon: a browser with a window asks for it on a first visit; headless Chromium may not.
    // It counts either way, fetched as a browser would (Accept-Encoding: gzip).
    const html = readFileSync(join(dist, 'index.html'), 'utf8');
    const icons = [...html.matchAll(/<link rel="icon" href="(\/[^"]+)"/g)].map((m) => m[1]!);
    expect(icons).toEqual(['/favicon.svg']);
    for (const icon of icons) if (!files.has(icon)) files.set(icon, { path: icon, ...(await wireBody(`${nginx.url}${icon}`)) });

    // What the first load must be: the page, its config and every JS/CSS file of the build (no lazy
    // chunk escapes the count), text sent gzipped where it is worth it.
    const built = readdirSync(join(dist, 'assets'))
      .filter((f) => /\.(js|css)$/.test(f))
      .map((f) => `/assets/${f}`);
    expect(built.length).toBeGreaterThan(0);
    expect([...files.keys()].sort()).toEqual(['/', '/config.json', '/favicon.svg', ...built].sort());
    for (const path of ['/', ...built]) expect(files.get(path)?.encoding, path).toBe('gzip');
    for (const f of files.values()) expect(f.bytes, f.path).toBeGreaterThan(0);

    const total = [...files.values()].reduce((sum, f) => sum + f.bytes, 0);
    mkdirSync('test-results', { recursive: true });
    writeFileSync('test-results/web-size.json', JSON.stringify({ budget: BUDGET, total, files: [...files.values()] }, null, 2) + '\n');
    // One entry chunk and no lazy ones: Vite's modulepreload polyfill would have nothing to preload.
    expect(html).not.toContain('modulepreload');
    for (const file of built.filter((f) => f.endsWith('.js'))) expect(readFileSync(join(dist, file), 'utf8')).not.toContain('modulepreload');
    expect(total, `first load is ${total} B`).toBeLessThanOrEqual(BUDGET);
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
