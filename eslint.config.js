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
]
