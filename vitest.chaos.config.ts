/**
 * `npm run test:chaos`: the chaos scenarios (docs/RELIABILITY.md), apart from `npm test`. One file at a time:
 * each starts several worker processes and servers, and their timings are the measure, so they must not compete
 * with each other for the machine's two cores.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/chaos/*.test.ts'],
    // The tests' PostgreSQL (or an embedded one), then `dist/` built once: the workers run the shipped code.
    globalSetup: ['test/global-setup.ts', 'test/chaos/harness/build.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 240_000,
    hookTimeout: 120_000,
    // A scenario's figures are its output: print its summary line as it runs.
    reporters: ['default'],
  },
});
