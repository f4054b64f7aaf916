import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The Docker test builds images and runs containers: `npm run test:docker` (vitest.docker.config.ts).
    exclude: [...configDefaults.exclude, 'test/docker/**'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file isolates itself (queue prefix, schema, port 0), so files run in parallel safely.
    fileParallelism: true,
    restoreMocks: true,
  },
});
