// Lint: typescript-eslint's recommended rules, plus the one-way import rule of the style guide:
//   arch <- ept, guest <- vmx/mmu <- replay <- report <- cli   (ept and guest never import each other)
// tests/arch/layering.test.ts checks the same graph for cycles.
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

const layer = (dir, forbidden) => ({
  files: [`src/${dir}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: forbidden.map((f) => ({ group: [`**/${f}/*`, `../${f}/*`, `../../${f}/*`], message: `src/${dir} must not import src/${f} (one-way layering)` })),
    }],
  },
});

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/out/**', 'tests/output/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  { files: ['**/*.js'], languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly' } } },
  layer('arch', ['ept', 'guest', 'vmx', 'mmu', 'replay', 'report', 'cli']),
  layer('ept', ['guest', 'vmx', 'mmu', 'replay', 'report', 'cli']),
  layer('guest', ['ept', 'vmx', 'mmu', 'replay', 'report', 'cli']),
  layer('mmu', ['vmx', 'replay', 'report', 'cli']),
  layer('vmx', ['replay', 'report', 'cli']),
  layer('replay', ['report', 'cli']),
  layer('report', ['cli']),
);
