// Lint: typescript-eslint type-checked rules, plus the architecture's import rules
// (STYLE.md): each lib/ folder has one job and may only import what that job needs.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const restrict = (paths, patterns = []) => ({
  'no-restricted-imports': ['error', { paths, patterns }],
});
const dbClient = { name: '@eventstore/db-client', message: 'Only lib/store/eventstoredb and lib/server talk to EventStoreDB.' };
const dbClientDeep = { group: ['@eventstore/db-client/*'], message: 'Only lib/server uses the generated gRPC modules.' };
const reflect = { name: 'reflect-metadata', message: 'Only lib/metadata imports reflect-metadata.' };
const grpc = { name: '@grpc/grpc-js', message: 'Only lib/server speaks gRPC.' };

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bin/**', 'spec/register.js', 'eslint.config.mjs', '.sagastream/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  { files: ['lib/**/*.ts'], rules: restrict([dbClient, reflect, grpc], [dbClientDeep]) },
  { files: ['lib/metadata/**/*.ts'], rules: restrict([dbClient, grpc], [dbClientDeep]) },
  { files: ['lib/store/eventstoredb/**/*.ts'], rules: restrict([reflect, grpc], [dbClientDeep]) },
  { files: ['lib/server/**/*.ts'], rules: restrict([reflect]) },
  {
    files: ['lib/storage/**/*.ts'],
    rules: restrict([dbClient, reflect, grpc], [dbClientDeep, { group: ['../server/*', '../store/*', '../process/*', '../runtime/*'], message: 'lib/storage knows nothing above it.' }]),
  },
  {
    files: ['lib/process/**/*.ts'],
    rules: restrict([dbClient, reflect, grpc, { name: 'fs', message: 'lib/process does no I/O.' }, { name: 'node:fs', message: 'lib/process does no I/O.' }], [dbClientDeep, { group: ['../store/*', '../storage/*', '../server/*', '../runtime/*'], message: 'lib/process does no I/O.' }]),
  },
  { files: ['spec/**/*.ts', 'bench/**/*.ts', 'samples/**/*.ts'], rules: { '@typescript-eslint/no-unused-expressions': 'off', '@typescript-eslint/unbound-method': 'off' } },
);
