import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Apart: the chaos scenarios (`npm run test:chaos`, vitest.chaos.config.ts) and the Docker test, which builds
    // images and runs containers (`npm run test:docker`, vitest.docker.config.ts).
    exclude: [...configDefaults.exclude, 'test/chaos/**', 'test/docker/**'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file isolates itself (queue prefix, schema, port 0), so files run in parallel safely.
    fileParallelism: true,
    restoreMocks: true,
  },
});
