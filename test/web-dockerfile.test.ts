import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The web image builds the page from web/ and the few API modules the page and its Vite config
// import as code (web/Dockerfile copies them one by one). No Docker engine runs in CI: check
// statically that every such module, and what it imports in turn, is copied.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dockerfile = readFileSync(join(root, 'web/Dockerfile'), 'utf8');
const copied = new Set(
  dockerfile
    .split('\n')
    .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
    .flatMap((l) => l.split(/\s+/).slice(1, -1)),
);

/** Relative imports of `file` that are code (`import type` leaves nothing in the bundle). */
function codeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'(\.[^']+)'/gm)) {
    if (m[2]) continue;
    const base = resolve(dirname(file), m[3]!);
    const path = [base, `${base}.ts`, join(base, 'index.ts')].find((p) => existsSync(p) && statSync(p).isFile());
    if (path) found.push(path);
  }
  return found;
}

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === '__tests__' ? [] : sources(join(dir, e.name))) : /\.(ts|vue)$/.test(e.name) && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );

describe('web/Dockerfile', () => {
  it('copies every functions/api module the page and its build import as code', () => {
    const seen = new Set<string>();
    const queue = [...sources(join(root, 'web/src')), ...sources(join(root, 'web/server')), join(root, 'web/vite.config.ts')];
    while (queue.length) {
      for (const dep of codeImports(queue.pop()!)) {
        const rel = relative(root, dep);
        if (!rel.startsWith('functions/') || seen.has(rel)) continue;
        seen.add(rel);
        queue.push(dep);
      }
    }
    expect(seen).toContain('functions/api/task-position.ts');
    expect([...seen].filter((f) => !copied.has(f)).sort()).toEqual([]);
  });
});
