import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));
const alias = {
  '@regime/engine': pkg('engine'),
  '@regime/data': pkg('data'),
  '@regime/features': pkg('features'),
  '@regime/regimes': pkg('regimes'),
  '@regime/models': pkg('models'),
};

// One project per package plus the cross-package tests; `npm test` runs them all.
export default defineConfig({
  test: {
    projects: [
      { resolve: { alias }, test: { name: 'engine', include: ['packages/engine/test/**/*.test.ts'] } },
      { resolve: { alias }, test: { name: 'data', include: ['packages/data/test/**/*.test.ts'], testTimeout: 60_000 } },
      { resolve: { alias }, test: { name: 'features', include: ['packages/features/test/**/*.test.ts'], testTimeout: 120_000 } },
      { resolve: { alias }, test: { name: 'regimes', include: ['packages/regimes/test/**/*.test.ts'], testTimeout: 300_000 } },
      { resolve: { alias }, test: { name: 'models', include: ['packages/models/test/**/*.test.ts'], testTimeout: 300_000 } },
      { resolve: { alias }, test: { name: 'cli', include: ['packages/cli/test/**/*.test.ts'], testTimeout: 120_000 } },
      { resolve: { alias }, test: { name: 'e2e', include: ['tests/**/*.test.ts'], testTimeout: 900_000 } },
    ],
  },
});
