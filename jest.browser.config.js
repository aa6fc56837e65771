import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// The browser specs (spec/browser/): jest drives real Chromium through playwright-core, against real
// sync servers that serve the demo page. `npm run test:browser` runs them alone
// (`jest -c jest.browser.config.js`); jest.config.js lists this object as one of its projects so
// that `npm test` runs them too. Without Chromium they are skipped with a banner, except in CI,
// where they fail (spec/support/browser/chromium.ts).
const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }];
export default {
  rootDir: dirname(fileURLToPath(import.meta.url)),
  displayName: 'browser',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/spec/browser/**/*.spec.ts'],
  transform: { '^.+\\.(t|j|mj)sx?$': swc },
  transformIgnorePatterns: ['/node_modules/(?!wa-sqlite/|jose/)'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1', '^ws$': '<rootDir>/node_modules/ws/index.js' },
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  // Tests wait on real sync: their timeout (30 s) is set by describeInBrowser (spec/support/browser/chromium.ts),
  // because `testTimeout` here would be ignored when this object is a project of jest.config.js.
};
