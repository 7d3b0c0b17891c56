import { describe, expect, it } from 'vitest'
import { csvCell, toCsv } from '../../gateway/lib/csv.js'

describe('csvCell', () => {
  it.each([
    ['plain', 'plain'],
    ['=HYPERLINK("http://evil.example","click")', '"\'=HYPERLINK(""http://evil.example"",""click"")"'],
    ['+1+2', "'+1+2"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1:A2)', "'@SUM(A1:A2)"],
    ['\tcmd', "'\tcmd"],
    ['\r=1', '"\'\r=1"'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['line\nbreak', '"line\nbreak"'],
    ['a=b', 'a=b']
  ])('%j → %j', (value, expected) => {
    expect(csvCell(value)).toBe(expected)
  })

  it('writes numbers as numbers and null as an empty cell', () => {
    expect(csvCell(-3)).toBe('-3')
    expect(csvCell(42)).toBe('42')
    expect(csvCell(null)).toBe('')
  })
})

describe('toCsv', () => {
  it('writes a header and rows, each ending in CRLF', () => {
    expect(toCsv(['a', 'b'], [[1, 'x'], [2, '=y']])).toBe("a,b\r\n1,x\r\n2,'=y\r\n")
  })
})
