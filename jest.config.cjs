// Two projects: plain Node for the server, protocol and engine specs, and jsdom for the specs that
// must see a browser-like global scope (`*.jsdom.spec.ts`). Sources are TypeScript with NodeNext
// `.js` import suffixes, transformed to CommonJS by @swc/jest (fastest setup measured here).
const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }];
const common = {
  transform: { '^.+\\.(t|j|mj)sx?$': swc },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
};
module.exports = {
  projects: [
    { ...common, displayName: 'node', testEnvironment: 'node', testMatch: ['<rootDir>/spec/**/*.spec.ts'], testPathIgnorePatterns: ['\\.jsdom\\.spec\\.ts$', '/spec/browser/'] },
    { ...common, displayName: 'jsdom', testEnvironment: 'jsdom', testMatch: ['<rootDir>/spec/**/*.jsdom.spec.ts'] },
  ],
};
