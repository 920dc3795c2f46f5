import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'charts/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Merely importing it costs ~85 MiB of RSS (its generated API); controllers/runtime/kube talks to
    // the API server instead. controllers/runtime/kube/loaded-packages.test.ts checks the loaded graph.
    files: ['controllers/**', 'agent/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@kubernetes/client-node', '@kubernetes/client-node/*'],
              message: 'use controllers/runtime/kube (KubeClient, loadKubeConfig, LongWatch) instead',
            },
          ],
        },
      ],
    },
  },
  {
    // The client adapter is the one place allowed to bridge the untyped Kubernetes client.
    files: ['controllers/runtime/kube/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
