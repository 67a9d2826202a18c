import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // This machine's golden files, where the Python oracle is (test/golden-setup.ts).
    globalSetup: ['test/golden-setup.ts'],
    // Each file in its own process (the addon holds native state), one at a time (they use every core).
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
