import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The chaos scenarios run on their own (`npm run test:chaos`, vitest.chaos.config.ts).
    exclude: ['**/node_modules/**', 'test/chaos/**'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file isolates itself (queue prefix, schema, port 0), so files run in parallel safely.
    fileParallelism: true,
    restoreMocks: true,
  },
});
