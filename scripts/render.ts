// npm run render [-- --check]: write platform/rendered/<env>/ and platform/argocd/<env>/ for every
// environment. --check writes nothing and fails when the committed files differ.
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderAll } from '../platform/render';
import { environments } from '../platform/values';
import { argocdDir, observabilityDir, renderedDir } from '../platform/layout';
import { exitCode, runCommandLine } from './ops/cli';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** Paths (relative to the repo) whose committed text differs from a fresh render, or that should not exist. */
export function staleFiles(rendered: Map<string, string>): string[] {
  const outputDirs = environments.flatMap((env) => [renderedDir(env), argocdDir(env), observabilityDir(env)]);
  const onDisk = new Set(outputDirs.flatMap((d) => filesUnder(join(root, d))));
  const stale: string[] = [];
  for (const [file, text] of rendered) {
    const path = join(root, file);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) stale.push(file);
    onDisk.delete(file);
  }
  return [...stale, ...onDisk].sort();
}

function write(rendered: Map<string, string>): void {
  for (const env of environments) {
    for (const dir of [renderedDir(env), argocdDir(env), observabilityDir(env)]) rmSync(join(root, dir), { recursive: true, force: true });
  }
  for (const [file, text] of rendered) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
}

const help = 'usage: npm run render [-- --check]   (--check: write nothing, fail when the committed files are stale)\n';

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runCommandLine({ name: 'render', help, flags: { check: { type: 'boolean', default: false } } }, (args) => {
    const rendered = renderAll();
    if (args.check) {
      const stale = staleFiles(rendered);
      if (stale.length > 0) {
        console.error(`rendered manifests are stale; run \`npm run render\` and commit:\n  ${stale.join('\n  ')}`);
        return exitCode.problems;
      }
      console.log(`rendered manifests are current (${rendered.size} files)`);
      return exitCode.ok;
    }
    write(rendered);
    console.log(`rendered ${rendered.size} files for ${environments.join(', ')}`);
    return exitCode.ok;
  });
}
