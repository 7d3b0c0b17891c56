// Below app.inject: raw bytes to a listening gateway, through Node's HTTP parser and the server's
// client-error handler. Request lines, header blocks and bodies bent out of shape (bad methods and
// versions, CR/LF injection, folded and oversized headers, conflicting Content-Length and
// Transfer-Encoding, broken chunks). Every answer is a 4xx or better, every 4xx body a catalogued
// code, and the server keeps answering. (Node itself answers a request without Host with a bare
// 400 and no body, before any handler of ours: nothing to judge there but the status.)
import { connect } from 'node:net'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ERRORS } from '../../gateway/errors.js'
import { buildApp, testConfig } from '../helpers/app.js'
import { token } from '../helpers/tokens.js'

const SEED = process.env.FUZZ_SEED === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(process.env.FUZZ_SEED)
const CASES = 300

/** Sends `bytes` on a fresh connection; the answer's status line and body, or none within the wait. */
async function exchange (port: number, bytes: Buffer): Promise<{ status?: number, body: string, raw: string }> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let settled = false
    const done = (): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      const raw = Buffer.concat(chunks).toString('latin1')
      const status = /^HTTP\/1\.[01] (\d{3}) /.exec(raw)?.[1]
      const [head = '', ...rest] = raw.split('\r\n\r\n')
      const payload = rest.join('\r\n\r\n')
      // Only the first answer's body: bytes left after a request can make a second (pipelined) one.
      const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1]
      const body = /\r\ntransfer-encoding: chunked\r?$/im.test(head) ? dechunk(payload) : length === undefined ? payload : Buffer.from(payload, 'latin1').subarray(0, Number(length)).toString('utf8')
      resolve({ ...(status === undefined ? {} : { status: Number(status) }), body, raw })
    }
    // A request the parser is still waiting on (a body shorter than its Content-Length) gets no answer: fine.
    const timer = setTimeout(done, 500)
    socket.on('data', (chunk) => {
      chunks.push(chunk)
      // One whole answer is all that is judged: its head, then as much body as it announces.
      const raw = Buffer.concat(chunks).toString('latin1')
      const end = raw.indexOf('\r\n\r\n')
      if (!raw.startsWith('HTTP/') || end === -1) return
      const head = raw.slice(0, end)
      if (/^HTTP\/1\.[01] 1\d\d /.test(head)) return
      const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1]
      const body = raw.slice(end + 4)
      if (length !== undefined ? Buffer.byteLength(body, 'latin1') >= Number(length) : /\r\ntransfer-encoding: chunked/i.test(head) ? body.endsWith('0\r\n\r\n') : false) done()
    })
    socket.on('error', done)
    socket.on('close', done)
    socket.write(bytes)
  })
}

/** The body of a chunked answer (what arrived of it). */
function dechunk (payload: string): string {
  let out = ''
  let rest = payload
  for (;;) {
    const line = rest.indexOf('\r\n')
    const size = line === -1 ? NaN : parseInt(rest.slice(0, line), 16)
    if (!(size > 0)) return out
    out += rest.slice(line + 2, line + 2 + size)
    rest = rest.slice(line + 2 + size + 2)
  }
}

describe(`raw HTTP under fuzzing (seed ${SEED})`, () => {
  let app: FastifyInstance
  let port: number
  const ops = token({ role: 'ops' })

  beforeAll(async () => {
    app = await buildApp({ config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]', GATEWAY_AUTH_FAILURES_PER_IP_PER_SECOND: '100000', GATEWAY_AUTH_FAILURE_BURST_PER_IP: '1000000' }) })
    const address = await app.listen({ host: '127.0.0.1', port: 0 })
    port = Number(new URL(address).port)
  })
  afterAll(async () => { await app.close() })

  it(`answers ${CASES} malformed requests with a 4xx in the catalogue's shape, or not at all, never a 5xx`, async () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 })
    const method = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD') }, { weight: 1, arbitrary: fc.constantFrom('get', 'G ET', 'PATCH', 'TRACE', 'CONNECT', 'PRI', '', 'X'.repeat(100)) }, { weight: 1, arbitrary: text })
    const target = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('/healthz', '/v1/schedule', '/v1/registrations', '/v1/ops/outbox', '/v1/partner/validations', '/docs/json', '/metrics') },
      { weight: 2, arbitrary: fc.constantFrom('*', 'http://127.0.0.1/healthz', '//healthz', '/%', '/%ZZ', '/v1/../../etc/passwd', '/\u0000', '/a b', `/${'a'.repeat(9_000)}`, '', '?', '#x') },
      { weight: 1, arbitrary: text.map((t) => `/${t}`) }
    )
    const version = fc.oneof({ weight: 8, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/9', '', 'http/1.1') })
    const header = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('Host: 127.0.0.1', 'Content-Type: application/json', 'Accept-Language: ht', `Authorization: Bearer ${ops}`, 'X-Device-Id: 00000000-0000-4000-8000-000000000001', 'Idempotency-Key: k-1', 'Connection: close', 'Connection: keep-alive', 'Expect: 100-continue') },
      { weight: 2, arbitrary: fc.constantFrom('Content-Length: 5', 'Content-Length: -1', 'Content-Length: 1e3', 'Content-Length: 2, 3', 'Content-Length: 99999999999999999999', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: identity', 'Transfer-Encoding:\tchunked', 'Content-Encoding: gzip', 'Content-Encoding: br') },
      { weight: 2, arbitrary: fc.constantFrom(' folded: continuation', 'No-Colon', ': empty-name', 'Bad Name: x', 'X-Inject: a\rb', 'X-Inject: a\nSet-Cookie: b', `X-Huge: ${'a'.repeat(20_000)}`, `Accept-Language: ${'es,'.repeat(3_000)}`, 'Host: a', 'Host: b') },
      { weight: 1, arbitrary: fc.tuple(text, text).map(([n, v]) => `${n}: ${v}`) }
    )
    const body = fc.oneof(
      fc.constant(''),
      fc.constantFrom('{}', '{"a":1}', '5\r\nhello\r\n0\r\n\r\n', 'zz\r\nhello\r\n0\r\n\r\n', '5\r\nhel', '0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', '[[[[[[[[[[', '\u0000\u0001\u0002'),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1'))
    )
    // Usually a Host header first (without one Node refuses every HTTP/1.1 request at once).
    const host = fc.oneof({ weight: 9, arbitrary: fc.constant('Host: 127.0.0.1') }, { weight: 1, arbitrary: fc.constantFrom('', 'Host: ', 'Host: a b', 'Host: [::1', `Host: ${'h'.repeat(300)}`) })
    const request = fc.record({ method, target, version, host, headers: fc.array(header, { maxLength: 6 }), body })

    const statuses = new Map<string, number>()
    let failure: string | undefined
    const details = await fc.check(fc.asyncProperty(request, async (r) => {
      const headers = r.host === '' ? r.headers : [r.host, ...r.headers]
      const bytes = Buffer.from(`${r.method} ${r.target} ${r.version}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${r.body}`, 'latin1')
      const answer = await exchange(port, bytes)
      const key = String(answer.status ?? 'none')
      statuses.set(key, (statuses.get(key) ?? 0) + 1)
      let problem: string | undefined
      if (answer.status !== undefined && answer.status >= 500) problem = `status ${answer.status}`
      else if (answer.status !== undefined && answer.status >= 400 && r.method !== 'HEAD' && answer.body !== '') {
        let code: unknown
        try { code = (JSON.parse(answer.body) as { code?: unknown }).code } catch { code = undefined }
        if (typeof code !== 'string' || !(code in ERRORS)) problem = `status ${answer.status} without a catalogued code`
      }
      if (problem !== undefined) {
        failure = `${JSON.stringify(`${r.method} ${r.target.slice(0, 60)} ${r.version}`)} headers ${JSON.stringify(headers.map((h) => h.slice(0, 60)))}: ${problem}: ${JSON.stringify(answer.raw.slice(0, 1200))}`
        return false
      }
      return true
    }), { numRuns: CASES, seed: SEED, endOnFailure: true })
    if (details.failed) throw new Error(`raw HTTP fuzz failed after ${details.numRuns} cases (seed ${details.seed}, path ${details.counterexamplePath ?? ''}): ${failure ?? String(details.errorInstance)}`)
    console.log(`raw HTTP fuzz (seed ${SEED}): ${CASES} requests; statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
    // The parser's own refusals were exercised, not only the routes.
    expect((statuses.get('400') ?? 0) + (statuses.get('431') ?? 0)).toBeGreaterThan(CASES / 20)
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
  }, 240_000)
})
