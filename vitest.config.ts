import { defineConfig } from 'vitest/config';

// Two projects: Node-side code (API, platform, secrets, scripts, cross-part tests)
// and the Vue app (happy-dom). The web project is defined in web/vitest.config.ts
// so it sees exactly the Vite config the app is built with.
export default defineConfig({
  test: {
    // The second writes the count and duration of a full `npm test` into test/README.md.
    reporters: ['default', './test/support/last-run-reporter.ts'],
    projects: [
      {
        test: {
          name: 'node',
          environment: 'node',
          include: [
            'functions/**/*.test.ts',
            'platform/**/*.test.ts',
            'secrets/**/*.test.ts',
            'scripts/**/*.test.ts',
            'test/**/*.test.ts',
          ],
          // Provides what the suites need on a fresh machine (nginx, Chromium, the cluster user, the
          // test database) or stops with a message saying what to do; then builds what several
          // files run (the bundles, web/dist) once.
          globalSetup: ['test/support/global-setup.ts', 'test/setup/builds.ts'],
          // Need built images: `npm run test:images` (test/images/vitest.config.ts).
          exclude: ['test/images/**', '**/node_modules/**'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      'web/vitest.config.ts',
    ],
  },
});
