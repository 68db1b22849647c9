import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Vite hands .ts/.mts/.tsx/.jsx to esbuild by default, not .cts: the CLI's CommonJS entry
  // files (src/cli/bin.cts, lean.cts, guard.cts) are TypeScript too.
  esbuild: { include: /\.([cm]?ts|[jt]sx)$/ },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    poolOptions: {
      // Vitest's default on a 2-core machine is one fork (cores - 1): every file in turn. Many
      // files spend most of their time waiting on real daemons (a gateway's grace for blocked
      // mail, Postfix queues, process start-up), so three run side by side.
      forks: { maxForks: 3, minForks: 1 },
    },
  },
});
