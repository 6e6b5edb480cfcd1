import { defineConfig, mergeConfig } from 'vitest/config';
import viteConfig from './vite.config.ts';

// Component tests see exactly the Vite config the app is built with.
export default defineConfig(async (env) =>
  mergeConfig(await viteConfig(env), {
    test: {
      name: 'web',
      root: new URL('.', import.meta.url).pathname,
      environment: 'happy-dom',
      include: ['src/**/*.test.ts', 'server/**/*.test.ts'],
    },
  }),
);
