import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'node_modules/**', 'coverage/**'],
  }),
  {
    rules: {
      // Node built-ins always carry the node: prefix (STYLE.md, Tooling).
      'n/prefer-node-protocol': 'error',
    },
  },
  {
    // k6 scripts: plain JavaScript run by k6, whose init context provides these globals.
    files: ['loadtests/k6/**/*.js', 'loadtests/profiles/**/*.js'],
    languageOptions: {
      globals: { __ENV: 'readonly', __VU: 'readonly', __ITER: 'readonly', open: 'readonly' },
    },
  },
]
