import { defineConfig } from 'vitest/config';

// Lab tests start real sshd, etcd and Sensu stand-ins: generous timeouts, and files run in
// separate processes so one test's lab teardown cannot be skipped by another's crash.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
