import { build, type Plugin } from 'esbuild';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readMigrations } from '../functions/api/migrations/files';

/**
 * Bundles each deployable function into one ESM file that runs with plain `node` and no
 * node_modules. PGlite stays external: it is the local/embedded driver, loaded only when
 * chosen, and never shipped in the production image.
 */
const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

export const entries = [
  { in: 'functions/api/server.ts', out: 'dist/api/server.mjs' },
  { in: 'functions/api/migrate.ts', out: 'dist/api/migrate.mjs' },
  { in: 'functions/api/backup/backup-command.ts', out: 'dist/api/backup.mjs' },
  { in: 'functions/api/backup/restore-command.ts', out: 'dist/api/restore.mjs' },
  { in: 'functions/rotate-secrets/index.ts', out: 'dist/rotate-secrets/index.mjs' },
];

/** Replaces the migrations loader with the SQL files embedded as strings. */
const embedMigrations: Plugin = {
  name: 'embed-migrations',
  setup(b) {
    b.onLoad({ filter: /functions[\\/]api[\\/]migrations[\\/]files\.ts$/ }, (args) => {
      const dir = join(args.path, '..');
      const list = readMigrations(dir);
      return {
        contents: `export function loadMigrations() { return ${JSON.stringify(list)}; }`,
        loader: 'js',
        watchFiles: list.map((m) => join(dir, m.name)),
      };
    });
  },
};

/**
 * zod re-exports every message locale through `z.locales`, which defeats tree-shaking (about
 * 150 KB of the bundle). The API only uses English messages, so only `en` is kept: less code to
 * parse on every cold start.
 */
const englishOnlyZod: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) => {
      if (!/node_modules[\\/]zod[\\/]/.test(args.importer)) return undefined;
      return { path: join(args.resolveDir, args.path.replace(/index\.js$/, 'en.js')), namespace: 'zod-locales' };
    });
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      loader: 'js',
      resolveDir: root,
    }));
  },
};

/** Newest modification time of the files under `dir`, skipping build output and dot folders. */
export function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    if (name === 'dist' || name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(p) : st.mtimeMs);
  }
  return newest;
}

/** Newest modification time under the sources a bundle depends on. */
export function sourcesMtime(): number {
  return Math.max(newestMtime(join(root, 'functions')), statSync(join(root, 'package-lock.json')).mtimeMs);
}

export function isStale(): boolean {
  const src = sourcesMtime();
  return entries.some((e) => {
    if (!existsSync(join(root, e.in))) return false;
    const out = join(root, e.out);
    return !existsSync(out) || statSync(out).mtimeMs < src;
  });
}

export async function buildFunctions(): Promise<void> {
  for (const e of entries) {
    if (!existsSync(join(root, e.in))) continue;
    await build({
      entryPoints: [join(root, e.in)],
      outfile: join(root, e.out),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      minify: true,
      sourcemap: 'linked',
      legalComments: 'none',
      external: ['pg-native', '@electric-sql/pglite', 'bufferutil', 'utf-8-validate'],
      define: { __APP_VERSION__: JSON.stringify(pkg.version) },
      // Some bundled CommonJS packages call require(); give the ESM output one.
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      plugins: [embedMigrations, englishOnlyZod],
      logLevel: 'warning',
    });
    const size = statSync(join(root, e.out)).size;
    console.log(`built ${relative(root, join(root, e.out))} (${(size / 1024).toFixed(0)} KB)`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // Loaded only when there are arguments to check: the API image's build stage copies this file
  // alone and runs it without any.
  if (process.argv.length > 2) {
    const { noFlags } = await import('./ops/cli');
    noFlags(process.argv.slice(2), 'build:functions', 'usage: npm run build:functions   (writes dist/: one ESM file per function)\n');
  }
  await buildFunctions();
}
