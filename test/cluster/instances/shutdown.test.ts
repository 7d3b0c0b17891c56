// How instances under `npm run start:cluster` stop: on more than one SIGTERM (systemd's default
// KillMode=control-group signals every process of the unit, and the supervisor forwards one more),
// and when the supervisor is killed, early or late (each instance drains by itself, no orphan).
import { randomUUID } from 'node:crypto'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest'
import { alive, member, startBench, startCluster, stopCluster, waitFor, type Bench, type ClusterProcess, type InstanceInfo } from './fixture.js'

/** The JSON log lines process `pid` wrote (instances and supervisor share the stdout). */
function linesOf (cluster: ClusterProcess, pid: number): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = []
  for (const line of cluster.stdout().split('\n')) {
    if (!line.includes(`"pid":${pid},`)) continue
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>)
    } catch {}
  }
  return lines
}

describe('start:cluster: stopping instances', () => {
  let bench: Bench
  let cluster: ClusterProcess | undefined
  beforeAll(async () => { bench = await startBench() })
  afterEach(async () => {
    await stopCluster(cluster)
    cluster = undefined
  })
  afterAll(async () => { await bench.close() })

  it('an instance signalled twice (SIGTERM to it and to the supervisor) still finishes the request in flight, then exits 0', async () => {
    cluster = startCluster(1, bench.env)
    const [instance] = await cluster.listening as [InstanceInfo]
    const pid = instance.instancePid
    const body = Buffer.from(JSON.stringify({ members: [member(900)], preferredLanguage: 'ht' }))
    // A registration whose body the client is still sending: Expect: 100-continue has the server
    // say it took the request (Node answers 100 and hands it to Fastify in the same turn, and the
    // draining check runs synchronously there), so it is in flight before any signal.
    const req = httpRequest(`${instance.url}/v1/registrations`, {
      method: 'POST',
      headers: { ...bench.applicant(), 'idempotency-key': randomUUID(), 'content-type': 'application/json', 'content-length': String(body.length), expect: '100-continue' }
    })
    const answered = new Promise<{ status: number, body: Record<string, unknown> }>((resolve, reject) => {
      req.once('response', (res: IncomingMessage) => {
        let text = ''
        res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).once('end', () => {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> })
        })
      })
      req.once('error', reject)
    })
    answered.catch(() => {})
    const continued = new Promise<void>((resolve) => req.once('continue', resolve))
    req.flushHeaders()
    await continued
    req.write(body.subarray(0, 20))

    // What systemd does with KillMode=control-group: SIGTERM to every process, the supervisor's
    // forwarded one on top. One after the other, each once the previous was taken: two sent at
    // once can arrive as one (a pending signal is not queued twice).
    const why = (): string => `${cluster?.stdout().slice(-3000) ?? ''}\n${cluster?.stderr() ?? ''}`
    process.kill(pid, 'SIGTERM')
    await waitFor(() => linesOf(cluster as ClusterProcess, pid).some((l) => l.msg === 'closing: finishing in-flight requests'), 20_000, why)
    cluster.child.kill('SIGTERM')
    await waitFor(() => linesOf(cluster as ClusterProcess, pid).some((l) => l.msg === 'SIGTERM while draining: ignored; still finishing in-flight requests') || !alive(pid), 20_000, why)
    expect(alive(pid), why()).toBe(true)
    expect(linesOf(cluster, pid).filter((l) => l.msg === 'closing: finishing in-flight requests')).toHaveLength(1)

    req.end(body.subarray(20))
    const answer = await answered
    expect(answer.status, JSON.stringify(answer.body)).toBe(201)
    expect(answer.body.registrationId).toEqual(expect.any(String))
    expect(await cluster.exited).toBe(0)
    expect(alive(pid)).toBe(false)
    expect((await stopCluster(cluster)).swept).toEqual([])
    expect(cluster.lines().find((l) => l.instancePid === pid && l.msg === 'instance 0 exited')?.code).toBe(0)
    expect(linesOf(cluster, pid).some((l) => l.msg === 'closed')).toBe(true)
  })

  /** Waits for every instance PID to be gone, then checks each drained rather than crashed. */
  async function expectAllDrainedAlone (c: ClusterProcess, pids: number[]): Promise<void> {
    const why = (): string => `alive: ${pids.filter(alive).join(', ')}\n${c.stdout().slice(-3000)}\n${c.stderr()}`
    // Each drains within GATEWAY_SHUTDOWN_TIMEOUT_MS (10 s by default) or exits 1 at its end.
    await waitFor(() => pids.every((pid) => !alive(pid)), 20_000, why)
    c.markExited(pids)
    for (const pid of pids) {
      const lines = linesOf(c, pid)
      expect(lines.some((l) => l.msg === 'closed'), `pid ${pid}: ${why()}`).toBe(true)
      expect(lines.filter((l) => typeof l.level === 'number' && l.level >= 50), `pid ${pid}`).toEqual([])
    }
    expect(c.stderr()).not.toMatch(/ERR_IPC_CHANNEL_CLOSED|Uncaught|Unhandled/i)
  }

  it('the supervisor SIGKILLed once its instances listen: each instance drains and exits by itself', async () => {
    const c = cluster = startCluster(2, bench.env)
    const pids = (await c.listening).map((i) => i.instancePid)
    expect(pids).toHaveLength(2)
    c.child.kill('SIGKILL')
    expect(await c.exited).toBe('SIGKILL')
    await expectAllDrainedAlone(c, pids)
    for (const pid of pids) expect(linesOf(c, pid).some((l) => l.msg === 'closing: finishing in-flight requests' && l.signal === 'disconnect')).toBe(true)
  })

  it('the supervisor SIGKILLed while its instances start (before they listen): each notices at start, drains and exits by itself', async () => {
    const c = cluster = startCluster(2, bench.env)
    // Both forked: the supervisor says so before either instance has loaded its modules.
    await waitFor(() => c.lines().filter((l) => l.msg.startsWith('starting instance')).length === 2, 20_000, () => c.stdout().slice(-3000))
    c.child.kill('SIGKILL')
    expect(await c.exited).toBe('SIGKILL')
    const pids = c.pids()
    expect(pids).toHaveLength(2)
    await expectAllDrainedAlone(c, pids)
    // Gone before it listened: it never serves, unsupervised.
    for (const pid of pids) expect(linesOf(c, pid).some((l) => typeof l.msg === 'string' && l.msg.startsWith('gateway listening'))).toBe(false)
  })

  it('stopped while an instance is down, awaiting its restart: the others drain, none is restarted, and the supervisor exits 1', async () => {
    // A restart far off (60 s), so the stop certainly comes while it waits.
    const c = cluster = startCluster(2, { ...bench.env, GATEWAY_INSTANCE_RESTART_DELAY_MS: '60000', GATEWAY_INSTANCE_RESTART_MAX_DELAY_MS: '60000' })
    const [first, second] = await c.listening as [InstanceInfo, InstanceInfo]
    process.kill(second.instancePid, 'SIGKILL')
    await waitFor(() => c.lines().some((l) => l.msg === 'instance 1 crashed (SIGKILL); restarting in 60000 ms'), 20_000, () => c.stdout().slice(-3000))
    const { code, swept } = await stopCluster(c)
    cluster = undefined
    expect(code).toBe(1)
    expect(swept).toEqual([])
    expect(c.lines().some((l) => l.msg === 'instance 1 was down, awaiting a restart: not restarted')).toBe(true)
    expect(c.lines().find((l) => l.instancePid === first.instancePid && l.msg === 'instance 0 exited')?.code).toBe(0)
    // Started twice in all: no restart of instance 1.
    expect(c.pids()).toEqual([first.instancePid, second.instancePid])
    expect(alive(first.instancePid)).toBe(false)
  })

  it('an instance that cannot listen on its fixed port (taken) stops them all, with exit 78, rather than restart in a loop', async () => {
    // The test holds the port instance 0 is given (GATEWAY_PORT + 0).
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    try {
      const port = (holder.address() as AddressInfo).port
      const c = cluster = startCluster(2, { ...bench.env, GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(port), GATEWAY_INSTANCE_RESTART_DELAY_MS: '200' })
      // Bounded: a restart loop would never end by itself.
      await waitFor(() => c.child.exitCode !== null || c.child.signalCode !== null, 30_000, () => c.stdout().slice(-3000))
      const { code, swept } = await stopCluster(c)
      cluster = undefined
      expect(code).toBe(78)
      expect(swept).toEqual([])
      expect(c.stderr()).toContain(`gateway: could not listen on 127.0.0.1 port ${port}: EADDRINUSE (GATEWAY_HOST, GATEWAY_PORT)`)
      expect(c.lines().some((l) => l.msg === 'instance 0 refused its configuration or could not listen (exit 78); stopping every instance')).toBe(true)
      // Started once each, never again.
      expect(c.pids()).toHaveLength(2)
      expect(c.lines().some((l) => l.msg.includes('restarting in'))).toBe(false)
      for (const pid of c.pids()) expect(alive(pid), `pid ${pid}`).toBe(false)
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()))
    }
  })
})
