import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { appImages, root, runtimeBase } from './app-images';
import { nginxBase, nodeBase } from './stand-in-bases';

// The stand-ins are tagged with the exact names the Dockerfiles pull, so the Dockerfiles build
// unchanged; a FROM that names anything else would make `npm run images` fail on a pull.
describe('stand-in base images', () => {
  it('cover every FROM of both Dockerfiles', () => {
    const froms = appImages.flatMap((image) =>
      readFileSync(`${root}${image.dockerfile}`, 'utf8')
        .split('\n')
        .map((l) => /^FROM\s+(\S+)/i.exec(l.trim())?.[1])
        .filter((f): f is string => f !== undefined),
    );
    expect(new Set(froms)).toEqual(new Set([nodeBase.image, nginxBase.image]));
    expect(appImages.map(runtimeBase)).toEqual([nodeBase.image, nginxBase.image]);
  });

  it('are Debian bookworm based, as their tags say', () => {
    for (const image of [nodeBase.image, nginxBase.image]) expect(image).toMatch(/-bookworm(-slim)?$/);
  });
});
