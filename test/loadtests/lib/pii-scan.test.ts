import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { formatHits, needlesFromRegistrations, percentDecode, photoPiece, scanFiles, scanText } from '../../../loadtests/lib/pii-scan.js'
import { rehearsalNeedles } from '../../../loadtests/rehearsal/driver.js'

const members = [
  { firstName: 'José', lastName: 'Hernández Peña', dateOfBirth: '1984-03-09', usAddress: { line1: '1207 Calle Ocho', line2: 'Apt 4B', city: 'Miami', state: 'FL', zip: '33135' } },
  { firstName: 'Li', lastName: 'Sow', dateOfBirth: '2019-12-30', usAddress: { line1: '55 Elm St', city: 'Laredo', state: 'TX', zip: '78040' } }
]
// Made up, and assembled so that the repository's secret scan (test/security/) does not take it for one.
const jwt = ['eyJhbGciOiJFUzI1NiJ9', 'eyJzdWIiOiJ1MSJ9', 'MEUCIQDx2F3y8p1Vq0aXo9rQw7LkP4s5Zb'].join('.')
const photo = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 251)).toString('base64')
const needles = needlesFromRegistrations([{ members }], { tokens: [jwt], photos: [photo] })

describe('pii-scan', () => {
  it('builds its needles from registrations, skipping names too short to judge alone', () => {
    expect(needles.fullNames).toEqual(['José Hernández Peña', 'Li Sow'])
    expect(needles.nameParts).toEqual(['José', 'Hernández', 'Peña', 'Sow'])
    expect(needles.datesOfBirth).toEqual(['1984-03-09', '2019-12-30'])
    expect(needles.streets).toEqual(['1207 Calle Ocho', 'Apt 4B', '55 Elm St'])
    expect(needles.photoPieces).toEqual([photoPiece(photo)])
  })

  it.each([
    ['a name in a JSON log line', '{"level":30,"msg":"x","body":{"members":[{"given":"José"}]}}', [{ line: 1, kind: 'name', field: 'body.members[0].given' }]],
    ['a whole name folded (case, accents)', 'refused JOSE HERNANDEZ PENA today', [{ line: 1, column: 9, kind: 'name' }]],
    ['a date of birth', 'a\nb 1984-03-09 c', [{ line: 2, column: 3, kind: 'date-of-birth' }]],
    ['a street line', '{"addr":"1207 calle ocho, Miami"}', [{ line: 1, kind: 'street', field: 'addr' }]],
    ['a token', `{"authorization":"Bearer ${jwt}"}`, [{ line: 1, kind: 'token', field: 'authorization' }]],
    ['a token\'s signature alone', 'sig=MEUCIQDx2F3y8p1Vq0aXo9rQw7LkP4s5Zb', [{ line: 1, column: 5, kind: 'token' }]],
    ['a piece of the photo', `{"photo":"${photo}"}`, [{ line: 1, kind: 'photo', field: 'photo' }]]
  ])('finds %s, saying where and what kind', (_name, text, expected) => {
    const hits = scanText('log', text, needles)
    expect(hits).toMatchObject(expected.map((e) => ({ source: 'log', ...e })))
    expect(hits).toHaveLength(expected.length)
  })

  it.each([
    ['a date that is no one\'s birthday', '{"poolDate":"2026-11-24"}'],
    ['a short name inside another word', 'Lisowski skimmed the list'],
    ['a single name as part of a longer word, in any case', 'severity: SOWING the seeds, lisowski, peñarol'],
    ['a house number with another street', '{"addr":"1207 Flagler St"}'],
    ['a street too short to judge without its number', 'elm st'],
    ['dates in other forms that are no one\'s birthday', '11/24/2026 2026/11/24 24.11.2026 20261124'],
    ['a birthday\'s 8 digits inside a longer number, an id or a decimal', '{"n":198403091,"id":"a19840309","durationMs":3.19840309,"v":"19840309.5"}'],
    ['a malformed percent escape', '{"path":"/v1/%E0%A4%A","q":"%ZZ%41"}'],
    ['a street number alone', '{"status":1207}'],
    ['an ordinary access line', '{"level":30,"method":"POST","route":"/v1/registrations","statusCode":201,"durationMs":3.1,"msg":"request completed"}']
  ])('does not report %s', (_name, text) => {
    expect(scanText('log', text, needles)).toEqual([])
  })

  describe('the probe (Marie-Claude Hernández, 1987-03-09, 1420 Maple Avenue)', () => {
    const probe = needlesFromRegistrations([{ members: [{ firstName: 'Marie-Claude', lastName: 'Hernández', dateOfBirth: '1987-03-09', usAddress: { line1: '1420 Maple Avenue' } }] }])

    it.each([
      ['the last name alone in capitals', 'refused HERNÁNDEZ', 'name'],
      ['the last name alone in lower case', 'who=hernández', 'name'],
      ['the last name alone without its accent', 'Hernandez was here', 'name'],
      ['the last name alone decomposed (NFD)', `x ${'Hernández'.normalize('NFD')} y`, 'name'],
      ['the given name alone, folded', 'MARIE-CLAUDE', 'name'],
      ['the last name percent-encoded', 'GET /v1/x?last=Hern%C3%A1ndez', 'name'],
      ['the last name percent-encoded in lower-case hex', 'q=hern%c3%a1ndez', 'name'],
      ['the whole name percent-encoded', 'q=Marie-Claude%20Hern%C3%A1ndez', 'name'],
      ['the date of birth month first', 'dob 03/09/1987', 'date-of-birth'],
      ['the date of birth with slashes, year first', 'dob 1987/03/09', 'date-of-birth'],
      ['the date of birth as 8 digits', 'dob=19870309', 'date-of-birth'],
      ['the date of birth day first with dots', 'geb. 09.03.1987', 'date-of-birth'],
      ['the date of birth day first with slashes', 'né le 09/03/1987', 'date-of-birth'],
      ['the date of birth percent-encoded', 'dob=03%2F09%2F1987', 'date-of-birth'],
      ['the street without its number', 'lives on Maple Avenue', 'street'],
      ['the street number and first word, abbreviated', 'at 1420 Maple Ave.', 'street'],
      ['the street number and first word, in capitals', '1420 MAPLE AVE', 'street'],
      ['the street percent-encoded', 'addr=1420+x%20Maple%20Avenue', 'street']
    ] as const)('finds %s', (_name, text, kind) => {
      expect(scanText('log', text, probe).map((h) => h.kind)).toEqual([kind])
    })

    it('says which JSON field held a percent-encoded datum, and where in the line as read', () => {
      const line = '{"url":"/v1/x?n=Hern%C3%A1ndez&d=19870309"}'
      expect(scanText('log', line, probe)).toEqual([
        { source: 'log', line: 1, column: line.indexOf('Hern') + 1, kind: 'name', field: 'url' },
        { source: 'log', line: 1, column: line.indexOf('1987') + 1, kind: 'date-of-birth', field: 'url' }
      ])
    })

    it.each([
      ['another street of the same first word', '1421 Maple Court; maple syrup'],
      ['the number on another street', '1420 Oak Avenue'],
      ['a name part inside a longer word', 'hernandezes, mariecl'],
      ['the date\'s digits in a longer token', 'id=198703091 x19870309 v1.19870309']
    ])('does not report %s', (_name, text) => {
      expect(scanText('log', text, probe)).toEqual([])
    })
  })

  it('percent-decodes runs of escapes, leaving malformed ones as they are', () => {
    expect(percentDecode('Hern%C3%A1ndez').text).toBe('Hernández')
    expect(percentDecode('a%20b%ZZ%E0%A4%41').text).toBe('a b%ZZ%E0%A4%41')
    expect(percentDecode('%E2%82').text).toBe('%E2%82')
    const { text, origin } = percentDecode('x%C3%A9y')
    expect(text).toBe('xéy')
    expect(origin).toEqual([0, 1, 7])
  })

  it('reports where, never what', () => {
    const hits = scanText('gateway.log', `ok\n{"a":{"b":"José Hernández Peña 1984-03-09"}}\nBearer ${jwt}`, needles)
    const report = formatHits(hits)
    expect(report).toBe([
      'pii-scan: 3 occurrence(s) of personal data:',
      '  gateway.log:2:12 name in a.b',
      '  gateway.log:2:32 date-of-birth in a.b',
      '  gateway.log:3:8 token'
    ].join('\n'))
    for (const secret of ['José', 'Hernández', '1984-03-09', jwt, 'MEUCIQ']) expect(report).not.toContain(secret)
    expect(formatHits([])).toBe('pii-scan: no personal data found')
  })

  describe('files', () => {
    let dir: string
    afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

    it('scans files by path, and refuses a file that is not there', async () => {
      dir = await mkdtemp(join(tmpdir(), 'pii-scan-'))
      await writeFile(join(dir, 'a.log'), 'clean\n')
      await writeFile(join(dir, 'b.log'), 'x\ny\nPeña\n')
      expect(await scanFiles([join(dir, 'a.log'), join(dir, 'b.log')], needles)).toEqual([{ source: join(dir, 'b.log'), line: 3, column: 1, kind: 'name' }])
      await expect(scanFiles([join(dir, 'missing.log')], needles)).rejects.toThrow('ENOENT')
    })
  })

  it('finds what the rehearsal driver sends by the rule it makes it, and not the gateway\'s own lines', () => {
    const needles = rehearsalNeedles()
    // person(tag, 12, 0): "Test" "Person 12-0 <tag>", born 1962-01-13, at "112 Rehearsal Street".
    const text = [
      '{"msg":"a","who":"Person 12-0 deadbeef"}',
      '{"msg":"a2","who":"PERSON 12-0 DEADBEEF"}',
      '{"msg":"b","dob":"1962-01-13"}',
      '{"msg":"c","street":"112 rehearsal street"}',
      `{"msg":"d","auth":"Bearer ${jwt}"}`,
      `{"msg":"e","photo":"${Buffer.alloc(300, 7).toString('base64')}"}`,
      '{"level":30,"method":"POST","route":"/v1/registrations","statusCode":201,"msg":"request completed"}',
      '{"level":30,"msg":"gateway listening on http://127.0.0.1:8080","poolDate":"2026-11-24"}'
    ].join('\n')
    expect(scanText('rehearsal', text, needles).map((h) => [h.line, h.kind, h.field])).toEqual([
      [1, 'name', 'who'], [2, 'name', 'who'], [3, 'date-of-birth', 'dob'], [4, 'street', 'street'], [5, 'token', 'auth'], [6, 'photo', 'photo']
    ])
  })
})
