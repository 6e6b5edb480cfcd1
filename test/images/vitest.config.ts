import { defineConfig } from 'vitest/config';

// The image tests (`npm run test:images`) need the images `npm run images` builds, root, and
// buildah; `npm test` leaves them out. One file at a time: each starts containers and the
// machine is small.
export default defineConfig({
  test: {
    name: 'images',
    environment: 'node',
    include: ['test/images/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
