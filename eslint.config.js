// ESLint (flat config): the recommended JavaScript and typescript-eslint rules over the sources,
// specs, benchmarks and scripts. Formatting is Prettier's job (.prettierrc.json), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/results.json', 'examples/*/dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      // Event payloads and test fixtures are untyped on purpose (the typed events are a later issue).
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Text checks look for U+0000 on purpose (SQLite would cut a string there).
      'no-control-regex': 'off',
      // A value a callback reads before it is assigned (a subscription, a server) must stay `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly', __dirname: 'readonly', process: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // A plain-JavaScript web page (its config runs in Node).
    files: ['examples/webpack/**/*.js'],
    languageOptions: {
      globals: { document: 'readonly', location: 'readonly', crypto: 'readonly', console: 'readonly', URL: 'readonly', URLSearchParams: 'readonly' },
    },
  },
  {
    files: ['scripts/**', 'bench/**', 'bin/**', 'examples/**/*.mjs', 'spec/**/*.mjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        Buffer: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
      },
    },
  },
);
