// Waiting-room admission holds across instances: clients who take their tickets through three
// gateway processes (start:cluster's entry) on one Redis, and wait on each instance's own
// WebSocket, are admitted at the room's admitPerSecond in all, and never more than maxActive
// hold a valid admission at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { maxInAnyWindow } from '../../../loadtests/lib/sliding-window.js'
import { call, startBench, startCluster, stopCluster, waitFor, type Bench, type ClusterProcess, type InstanceInfo } from './fixture.js'

const INSTANCES = 3
const ADMIT_PER_SECOND = 5
const MAX_ACTIVE = 10
// The shortest admission the configuration allows (GATEWAY_WAITING_ROOM_ADMISSION_TTL_SECONDS).
const ADMISSION_TTL_SECONDS = 10
// Twice maxActive: the first ten fill the room within two seconds, the other ten must wait for
// their admissions to expire, ten seconds on. Seven, seven and six through the three instances.
const CLIENTS = 2 * MAX_ACTIVE
// From configuring the room to its opening: three instances start in about 2 s on two cores, and
// the tickets take well under a second. Whoever is late still gets a ticket (after the opening,
// first come first served), so a slow start changes the order, not what is checked.
const LEAD_MS = 5_000

interface Admission { client: number, instance: number, decidedAt: number, expiresAt: number }

describe('waiting-room admission across three instances on one Redis', () => {
  let bench: Bench
  let cluster: ClusterProcess | undefined
  let instances: InstanceInfo[]
  const sockets: WebSocket[] = []
  const openingAt = Math.ceil((Date.now() + LEAD_MS) / 1000) * 1000
  beforeAll(async () => {
    bench = await startBench({ waitingRoom: true })
    cluster = startCluster(INSTANCES, {
      ...bench.env,
      GATEWAY_RATE_LIMIT_RULES: '[]',
      GATEWAY_WAITING_ROOMS: JSON.stringify([{
        name: 'surge',
        routes: ['GET /v1/schedule'],
        openings: [new Date(openingAt).toISOString()],
        preOpenMinutes: 1,
        activeMinutes: 2,
        admitPerSecond: ADMIT_PER_SECOND,
        maxActive: MAX_ACTIVE
      }]),
      GATEWAY_WAITING_ROOM_ADMISSION_TTL_SECONDS: String(ADMISSION_TTL_SECONDS),
      GATEWAY_REDIS_COMMAND_TIMEOUT_MS: '2000'
    })
    instances = await cluster.listening
  })
  afterAll(async () => {
    for (const ws of sockets) ws.terminate()
    await stopCluster(cluster)
    await bench.close()
  })

  it(`admits ${ADMIT_PER_SECOND} a second in all and never more than ${MAX_ACTIVE} at once, whichever instance each client waits on`, async () => {
    const admissions: Admission[] = []
    const problems: string[] = []
    await Promise.all(Array.from({ length: CLIENTS }, async (_, client) => {
      const instance = client % INSTANCES
      const { url, wsPort } = instances[instance] as InstanceInfo
      const ticket = await call(`${url}/v1/schedule`, { headers: bench.applicant() })
      expect(ticket.status).toBe(200)
      expect(ticket.headers['x-waiting-room']).toBe('surge')
      expect(ticket.body.status).toBe('waiting')
      // The client is sent to the WebSocket of the instance it asked.
      expect(ticket.body.wsUrl).toBe(`ws://127.0.0.1:${String(wsPort)}/v1/waiting-room/ws`)
      const ws = new WebSocket(ticket.body.wsUrl as string, { perMessageDeflate: false })
      sockets.push(ws)
      ws.on('open', () => { ws.send(JSON.stringify({ type: 'subscribe', ticket: ticket.body.ticket })) })
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string, decidedAt?: number, expiresAt?: string, code?: string }
        if (message.type === 'admitted') {
          if (admissions.some((a) => a.client === client)) problems.push(`client ${client} admitted twice`)
          else admissions.push({ client, instance, decidedAt: message.decidedAt as number, expiresAt: Date.parse(message.expiresAt as string) })
        } else if (message.type === 'error') {
          problems.push(`client ${client}: ${message.code ?? 'error'}`)
        }
      })
      ws.on('error', (err) => { problems.push(`client ${client}: ${err.message}`) })
    }))

    // Ten at the opening and the next second, ten more once the first expire: about 12 s.
    await waitFor(() => admissions.length === CLIENTS, Math.max(0, openingAt - Date.now()) + (ADMISSION_TTL_SECONDS + 10) * 1000, () => `${admissions.length} of ${CLIENTS} admitted; ${problems.join('; ')}`)
    expect(problems).toEqual([])

    // Decision times are the admitting instance's clock (one machine's here), the same clock the
    // store's exact rolling second counts by: so the bound is exact, no tolerance needed. With
    // twice maxActive waiting, the busiest second holds exactly admitPerSecond, not three times it.
    const decided = admissions.map((a) => a.decidedAt).sort((a, b) => a - b)
    expect(maxInAnyWindow(decided)).toBe(ADMIT_PER_SECOND)
    // At each decision, the admissions valid then (decided by then, expiring after), itself
    // included: never more than maxActive, and the room did fill up to it.
    const validAt = (t: number): number => admissions.filter((a) => a.decidedAt <= t && a.expiresAt > t).length
    const peak = Math.max(...admissions.map((a) => validAt(a.decidedAt)))
    expect(peak).toBe(MAX_ACTIVE)
    for (const a of admissions) expect(a.expiresAt - a.decidedAt).toBe(ADMISSION_TTL_SECONDS * 1000)
    // Nobody past the first maxActive got in before the first admissions expired: the cap held
    // while the rate alone would have let all twenty in within four seconds.
    const firstExpiry = Math.min(...admissions.map((a) => a.expiresAt))
    expect(decided.filter((t) => t < firstExpiry)).toHaveLength(MAX_ACTIVE)
    // Every client was admitted, pushed by the instance it waited on.
    expect([0, 1, 2].map((i) => admissions.filter((a) => a.instance === i).length)).toEqual([7, 7, 6])
  }, 60_000)
})
