import { describe, expect, it } from 'vitest';
import { appImages, imageSize, mib, runtimeBase, sizeBudget } from '../../scripts/images/app-images';

// What a scale-from-zero pays first on a node without the image: the download. The budgets are in
// scripts/images/app-images.ts; the README's Measured section has the figures.
describe('image sizes', () => {
  for (const image of appImages) {
    it(`${image.ref} stays within its budget of ${mib(sizeBudget[image.name].compressed)} compressed`, async () => {
      const size = await imageSize(image.ref, runtimeBase(image));
      expect(size.compressed).toBeGreaterThan(0);
      expect(size.compressed).toBeLessThan(size.uncompressed);
      expect(size.compressed, `${image.ref}: ${mib(size.compressed)}`).toBeLessThanOrEqual(sizeBudget[image.name].compressed);
      // The image's own layers are what the Dockerfile adds: a few files, not a dependency tree.
      // (The API's four bundles and code cache: 4.5 MiB, of it 2.4 MiB the backup and restore
      // bundles, which carry the AWS S3 SDK.)
      expect(size.own.uncompressed, `${image.ref} adds ${mib(size.own.uncompressed)}`).toBeLessThan(6 * 2 ** 20);
    });
  }
});
