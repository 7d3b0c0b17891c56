import { describe, expect, it } from 'vitest'
import { jsonDeeperThan } from '../../gateway/lib/json-depth.js'

describe('jsonDeeperThan', () => {
  it.each([
    ['a scalar', '1', 0, false],
    ['an empty object at the limit', '{}', 1, false],
    ['an object one past the limit', '{"a":{}}', 1, true],
    ['arrays and objects mixed', '{"a":[{"b":[1]}]}', 4, false],
    ['the same one past', '{"a":[{"b":[1]}]}', 3, true],
    ['siblings do not add up', '[[],[],[],[]]', 2, false],
    ['brackets inside a string', '{"a":"[[[[{{{{"}', 1, false],
    ['an escaped quote inside a string', '{"a":"\\"[[[["}', 1, false],
    ['an escaped backslash before the closing quote', '{"a":"\\\\","b":[[1]]}', 2, true],
    ['10,000 levels', '['.repeat(10_000) + ']'.repeat(10_000), 32, true]
  ])('%s', (_name, text, max, expected) => {
    expect(jsonDeeperThan(text, max)).toBe(expected)
  })
})
