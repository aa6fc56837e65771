import browser from './jest.browser.config.js';

// Two projects: plain Node for the server, protocol and engine specs, and jsdom for the specs that
// must see a browser-like global scope (`*.jsdom.spec.ts`). Sources are TypeScript with NodeNext
// `.js` import suffixes, transformed to CommonJS by @swc/jest (fastest setup measured here).
const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }];
const common = {
  transform: { '^.+\\.(t|j|mj)sx?$': swc },
  // wa-sqlite ships ES modules only: let swc transform it too.
  transformIgnorePatterns: ['/node_modules/(?!wa-sqlite/|jose/)'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1', '^ws$': '<rootDir>/node_modules/ws/index.js' },
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
};
export default {
  projects: [
    {
      ...common,
      displayName: 'node',
      testEnvironment: 'node',
      testMatch: ['<rootDir>/spec/**/*.spec.ts'],
      testPathIgnorePatterns: ['\\.jsdom\\.spec\\.ts$', '/spec/browser/'],
    },
    { ...common, displayName: 'jsdom', testEnvironment: 'jsdom', testMatch: ['<rootDir>/spec/**/*.jsdom.spec.ts'] },
    // Real Chromium through playwright-core (spec/browser/); `npm run test:browser` runs it alone.
    browser,
  ],
  // No watchman on these machines: looking for it made a plain `npx jest` hang.
  watchman: false,
};
