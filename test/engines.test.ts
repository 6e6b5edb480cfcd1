// package.json's `engines` tells the truth: every Node version it accepts is one that every locked
// dependency accepts too, so a supported install prints no EBADENGINE warning; and no locked
// package is deprecated, so it prints no deprecation warning either.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(`${root}package-lock.json`, 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; deprecated?: string }>;
};
const locked = Object.entries(lock.packages).filter(([path]) => path !== '');

describe('engines', () => {
  it('accepts only Node versions that every locked dependency accepts', () => {
    const supported = pkg.engines.node;
    expect(semver.validRange(supported)).not.toBeNull();
    const narrower = locked
      .map(([path, p]) => [path, !p.engines || Array.isArray(p.engines) ? undefined : p.engines.node] as const)
      .filter(([, range]) => range !== undefined && !semver.subset(supported, range))
      .map(([path, range]) => `${path.replace(/^.*node_modules\//, '')} wants node ${range}`);
    expect(narrower).toEqual([]);
  });

  it('locks no deprecated package', () => {
    const deprecated = locked.filter(([, p]) => p.deprecated).map(([path, p]) => `${path}: ${p.deprecated}`);
    expect(deprecated).toEqual([]);
  });
});
