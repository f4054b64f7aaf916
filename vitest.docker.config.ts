import { defineConfig } from 'vitest/config';

// `npm run test:docker`: builds the image and runs containers, so one file, long timeouts, kept out of `npm test`.
export default defineConfig({
  test: {
    include: ['test/docker/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 900_000,
    fileParallelism: false,
  },
});
