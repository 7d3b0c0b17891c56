import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { ERRORS } from '../../gateway/errors.js'
import { buildApp } from '../helpers/app.js'

function collect (socket: Socket): { text: () => string } {
  let text = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => { text += chunk })
  return { text: () => text }
}

describe('graceful close', () => {
  it('finishes requests in flight, closing their connections, and answers a request completed after the close began with a localized 503', async () => {
    let release: () => void = () => {}
    let entered: () => void = () => {}
    const held = new Promise<void>((resolve) => { release = resolve })
    const inHandler = new Promise<void>((resolve) => { entered = resolve })
    const app = await buildApp({
      routes: (f) => { f.get('/test/slow', async () => { entered(); await held; return { done: true } }) }
    })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as { port: number }

    // Connection A: a request in its handler when the close begins.
    const a = connect(port, '127.0.0.1')
    await once(a, 'connect')
    const fromA = collect(a)
    a.write('GET /test/slow HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await inHandler

    // Connection B: a request whose headers are still arriving when the close begins.
    const b = connect(port, '127.0.0.1')
    await once(b, 'connect')
    const fromB = collect(b)
    b.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n')
    await sleep(20)

    const closed = app.close()
    while (!app.draining) await sleep(5)
    b.write('Accept-Language: ht\r\n\r\n')
    await once(b, 'close')
    release()
    await once(a, 'close')
    await closed

    expect(fromA.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(fromA.text()).toMatch(/\r\nconnection: close\r\n/i)
    expect(fromA.text()).toContain('{"done":true}')

    const second = fromB.text()
    expect(second).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/)
    expect(second).toMatch(/\r\nconnection: close\r\n/i)
    expect(second).toMatch(/\r\nretry-after: 1\r\n/i)
    expect(second).toMatch(/\r\ncontent-language: ht\r\n/i)
    expect(JSON.parse(second.split('\r\n\r\n')[1] ?? '')).toEqual({
      code: 'GW_ERR_SERVER_SHUTTING_DOWN',
      message: ERRORS.GW_ERR_SERVER_SHUTTING_DOWN.messages.ht,
      retryAfterSeconds: 1
    })
  })
})
