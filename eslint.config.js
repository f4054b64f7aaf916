import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'packages/*/dist/', 'node_modules/', 'var/', 'preview/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'TSEnumDeclaration', message: 'Use an as-const object.' },
      ],
    },
  },
  {
    // Layers point one way: config, logger, errors ← mail/, db/, tasks/ (siblings) ← queues/ ← client, cli.
    files: ['src/mail/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['../tasks/*', '../db/*', '../queues/*', '../cli/*'] }],
    },
  },
  {
    files: ['src/db/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['../tasks/*', '../mail/*', '../queues/*', '../cli/*'] },
      ],
    },
  },
  {
    // The task contract must stay importable without the delivery stack.
    files: ['src/tasks/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['bullmq', 'ioredis', 'nodemailer', 'pg', '../mail/*', '../db/*', '../queues/*'] },
      ],
    },
  },
  {
    // The bridges are producers: they reach the queues through the client, never the delivery stack.
    files: ['src/bridges/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '../mail/*',
            '../db/*',
            '../cli/*',
            '../queues/start-workers.js',
            '../queues/process-job.js',
          ],
        },
      ],
    },
  },
);
