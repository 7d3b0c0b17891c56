// The README is for users: its quick start and configuration table must stay true.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { defaults } from '../config/defaults.js'
import { settings } from '../config/load.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

function defaultOf (path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], defaults)
}

describe('README', () => {
  it('starts with a quick start of exactly the two commands', () => {
    expect(readme).toMatch(/## Quick start\n\n```sh\nnpm start\nnpm test\n```\n/)
  })

  it('has a configuration row for every setting, with its key and default', () => {
    for (const setting of settings()) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${setting.env}\` |`))
      expect(row, setting.env).toBeDefined()
      expect(row).toContain(`| \`${setting.path}\` |`)
      const value = defaultOf(setting.path)
      if (typeof value === 'string' && value !== '') expect(row).toContain(`\`${value}\``)
      if (typeof value === 'number' || typeof value === 'boolean') expect(row).toContain(`\`${String(value)}\``)
    }
  })

  it('lists each default port of entry', () => {
    for (const poe of defaults.poes) expect(readme).toContain(`| \`${poe.slug}\` | ${poe.name}, ${poe.state} | ${poe.dailyCapacity} |`)
  })
})
