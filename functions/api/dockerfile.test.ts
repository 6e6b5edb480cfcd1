import { readFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// No Docker engine runs in CI: check the Dockerfile's promises statically, and that every
// path it copies exists. The bundle itself is started without node_modules in server.test.ts.
const text = readFileSync(new URL('./Dockerfile', import.meta.url), 'utf8');
const lines = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));

describe('functions/api/Dockerfile', () => {
  it('is multi-stage on Node 24 with pinned major tags', () => {
    const froms = lines.filter((l) => l.startsWith('FROM '));
    expect(froms).toHaveLength(2);
    for (const f of froms) expect(f).toMatch(/^FROM node:24[-.\w]*( AS \w+)?$/);
  });

  it('runs as a numeric non-root user with node as the entrypoint', () => {
    const user = lines.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toMatch(/^USER [1-9]\d*:[1-9]\d*$/);
    expect(lines.at(-1)).toBe('ENTRYPOINT ["node", "/app/server.mjs"]');
    expect(text).not.toMatch(/ENTRYPOINT \[?"?npm/);
  });

  it('copies only paths that exist in the repository', () => {
    const copies = lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from='));
    for (const c of copies) {
      const parts = c.split(/\s+/).slice(1, -1);
      for (const p of parts) expect(existsSync(new URL(`../../${p}`, import.meta.url)), p).toBe(true);
    }
  });
});
