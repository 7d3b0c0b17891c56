// The waiting-room page for browser users: static HTML in the negotiated language that holds a
// WebSocket to the push server and shows the place in line and the wait, updating by itself,
// and once admitted keeps the token (sessionStorage) and offers to continue. No framework: one
// small inline script under a nonce-based Content-Security-Policy.
import { randomBytes } from 'node:crypto'
import Type from 'typebox'
import type { FastifyPluginAsync } from 'fastify'
import { GatewayError } from '../../errors.js'
import { errorResponses } from '../../schemas/error.js'
import { RoomNameSchema, TicketIdSchema } from '../../schemas/waiting-room.js'
import { PAGE_TEXT } from './page-text.js'

// Only a path on this site: never an open redirect.
const RETURN_PATH = '^/(?![/\\\\])[\\x21-\\x7e]{0,512}$'

const page: FastifyPluginAsync = async function (fastify) {
  fastify.get('/waiting-room', {
    schema: {
      tags: ['waiting room'],
      summary: 'The waiting-room page: place in line and wait, pushed over the WebSocket, in the browser\'s language',
      querystring: Type.Object({ room: RoomNameSchema, ticket: TicketIdSchema, return: Type.Optional(Type.String({ pattern: RETURN_PATH })) }),
      response: { 200: Type.String({ description: 'text/html' }), ...errorResponses(400, 404, 429, 503) }
    }
  }, async function (request, reply) {
    const { room: name, ticket, return: back } = request.query as { room: string, ticket: string, return?: string }
    const room = fastify.waitingRoom.room(name)
    if (room === undefined) throw new GatewayError('GW_ERR_WR_ROOM_NOT_FOUND')
    const nonce = randomBytes(16).toString('base64')
    const data = { room: name, ticket, wsUrl: fastify.waitingRoomWsUrl(request.hostname), admitPerSecond: room.admitPerSecond, continueUrl: back ?? '/', language: request.language, text: PAGE_TEXT[request.language] }
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`)
      .send(html(nonce, data))
  })
}

function html (nonce: string, data: { language: string, text: { title: string } }): string {
  // JSON inside a script element: '<' escaped so no value can close the element.
  const json = JSON.stringify(data).replace(/</g, '\\u003c')
  return `<!doctype html>
<html lang="${data.language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.text.title)}</title>
<style nonce="${nonce}">
  body { font: 18px/1.5 system-ui, sans-serif; margin: 0; padding: 2rem 1rem; background: #f6f7f9; color: #1b1f24; }
  main { max-width: 32rem; margin: 0 auto; background: #fff; border-radius: 12px; padding: 1.5rem; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  #position { font-size: 1.4rem; font-weight: 600; }
  #status { color: #8a4b00; min-height: 1.5em; }
  a#continue { display: inline-block; margin-top: 1rem; padding: .75rem 1.25rem; background: #0b5cad; color: #fff; border-radius: 8px; text-decoration: none; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<main>
<h1>${escapeHtml(data.text.title)}</h1>
<p id="position" aria-live="polite"></p>
<p id="wait" aria-live="polite"></p>
<p id="status" role="status"></p>
<a id="continue" hidden></a>
</main>
<script type="application/json" id="wr-data">${json}</script>
<script nonce="${nonce}">
(() => {
  const data = JSON.parse(document.getElementById('wr-data').textContent)
  const t = data.text
  const $ = (id) => document.getElementById(id)
  const fill = (s, vars) => s.replace(/\\{(\\w+)\\}/g, (_, k) => String(vars[k]))
  let base = null
  let opensAt = null
  let rate = data.admitPerSecond
  let done = false
  let retryMs = 500
  let socket = null
  let firstSince = null

  function render (admittedNow) {
    if (base === null) return
    if (opensAt !== null) {
      const time = new Date(opensAt).toLocaleTimeString(data.language, { hour: '2-digit', minute: '2-digit' })
      $('position').textContent = fill(t.inDraw, { time, n: base.position })
      $('wait').textContent = ''
      return
    }
    // Each admission since the welcome moves everyone up one place.
    const position = Math.max(1, base.position - (admittedNow - base.admitted))
    const seconds = position / rate
    $('position').textContent = fill(t.position, { n: position })
    $('wait').textContent = seconds < 60 ? t.waitUnderMinute : fill(t.wait, { minutes: Math.ceil(seconds / 60) })
    document.body.dataset.position = String(position)
  }

  function admitted (m) {
    done = true
    try { sessionStorage.setItem('admission-token:' + data.room, m.admissionToken) } catch {}
    $('position').textContent = t.admitted
    $('wait').textContent = ''
    $('status').textContent = ''
    const link = $('continue')
    link.textContent = t.continue
    link.href = data.continueUrl
    link.hidden = false
    document.body.dataset.admitted = 'true'
  }

  function connect () {
    socket = new WebSocket(data.wsUrl)
    socket.onopen = () => {
      retryMs = 500
      $('status').textContent = ''
      socket.send(JSON.stringify({ type: 'subscribe', ticket: data.ticket }))
    }
    socket.onmessage = (event) => {
      let m
      try { m = JSON.parse(event.data) } catch { return }
      if (m.type === 'welcome') {
        base = { position: m.position, admitted: m.admitted }
        opensAt = m.opensAt ?? null
        render(m.admitted)
      } else if (m.type === 'progress') {
        rate = m.admitPerSecond || rate
        if (opensAt !== null && m.phase !== 'pre-open') {
          // The opening draw is done: ask again for this ticket's place, at a random moment of
          // the next half minute so that a crowd does not ask all at once.
          opensAt = null
          const drawn = socket
          setTimeout(() => { if (socket === drawn) drawn.close() }, Math.random() * 30000)
          return
        }
        render(m.admitted)
        // First in line for long with no admission (an admitter that died half way): ask again.
        if (base !== null && base.position - (m.admitted - base.admitted) <= 1) {
          firstSince = firstSince ?? Date.now()
          if (Date.now() - firstSince > 15000) { firstSince = null; socket.close() }
        } else {
          firstSince = null
        }
      } else if (m.type === 'admitted') {
        admitted(m)
        socket.close()
      } else if (m.type === 'error' && m.code === 'GW_ERR_WR_TICKET_NOT_FOUND') {
        // Only an unknown ticket is final; anything else (a restart, the store away) reconnects.
        done = true
        $('position').textContent = t.unknown
        $('wait').textContent = ''
      }
    }
    socket.onclose = () => {
      if (done) return
      if (base !== null) $('status').textContent = t.reconnecting
      // Jittered, so the clients of an instance that restarted do not come back all at once.
      setTimeout(connect, retryMs * (0.5 + Math.random()))
      retryMs = Math.min(retryMs * 2, 15000)
    }
  }
  connect()
})()
</script>
</body>
</html>
`
}

function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

export default page
