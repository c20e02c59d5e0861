// ESLint for the web app (`make lint` runs it with `tsc --noEmit`): the recommended rules
// of ESLint and typescript-eslint, type-aware where it finds real mistakes (promises left
// floating, awaits of non-promises), on the sources only.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'public/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // MapLibre 6's GeoJSONSource.setData returns a promise of the worker's re-tiling; the
      // map redraws when it settles and a failure is reported on the map's error event, so
      // its callers need not wait for it.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'maplibre-gl', name: 'setData' }],
      }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
