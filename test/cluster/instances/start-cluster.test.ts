// `npm run start:cluster -- --instances N` itself (dist/gateway/cluster.js, the supervisor): it
// starts N instances on ports of their own, they share one Redis, a crashed one is restarted, and
// SIGTERM stops them all; on the memory store it refuses more than one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alive, call, register, startBench, startCluster, stopCluster, waitFor, type Bench, type ClusterProcess, type InstanceInfo } from './fixture.js'

describe('start:cluster: the supervisor', () => {
  it('refuses --instances 3 on the embedded memory store before starting any instance (exit 78)', async () => {
    const cluster = startCluster(3, { GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: '0' })
    expect(await cluster.exited).toBe(78)
    expect(cluster.stderr()).toContain('--instances (cluster.instances, GATEWAY_INSTANCES) must be 1 when neither REDIS_URL nor REDIS_CLUSTER_NODES is set: the embedded memory store is per process, so 3 instances would each keep their own rate limits, vendor and delivery pacing and waiting room; set REDIS_URL, got 3')
    expect(cluster.pids()).toEqual([])
  })

  it('refuses an --instances that is not an integer from 1 to 64 (exit 78)', async () => {
    const cluster = startCluster(65, { GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: '0' })
    expect(await cluster.exited).toBe(78)
    expect(cluster.stderr()).toContain('--instances (cluster.instances, GATEWAY_INSTANCES) must be an integer from 1 to 64, got 65')
  })

  describe('three instances on one Redis', () => {
    let bench: Bench
    let cluster: ClusterProcess | undefined
    let instances: InstanceInfo[]
    beforeAll(async () => {
      bench = await startBench()
      cluster = startCluster(3, { ...bench.env, GATEWAY_WS_ENABLED: 'true', GATEWAY_INSTANCE_RESTART_DELAY_MS: '200' })
      instances = await cluster.listening
    })
    afterAll(async () => {
      await stopCluster(cluster)
      await bench.close()
    })

    it('starts three processes, each with its own HTTP and WebSocket port, and says which is where', async () => {
      expect(instances.map((i) => i.instance)).toEqual([0, 1, 2])
      expect(new Set(instances.map((i) => i.instancePid)).size).toBe(3)
      expect(new Set(instances.map((i) => i.url)).size).toBe(3)
      expect(new Set(instances.map((i) => i.wsPort)).size).toBe(3)
      for (const { url, wsPort } of instances) {
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
        expect(wsPort).toBeGreaterThan(0)
        expect((await call(`${url}/readyz`)).status).toBe(200)
        // Each one's own metrics, for Prometheus to scrape separately.
        expect((await call(`${url}/metrics`)).status).toBe(200)
      }
      for (const i of [0, 1, 2]) {
        expect(cluster?.lines().some((l) => l.msg.startsWith(`instance ${i} (pid ${instances[i]?.instancePid ?? ''}) listening on ${instances[i]?.url ?? ''}`))).toBe(true)
      }
    })

    it('shares one Redis: a registration made through one instance is read through the others', async () => {
      const who = bench.applicant()
      const made = await register((instances[0] as InstanceInfo).url, who, 1)
      expect(made.status).toBe(201)
      const id = made.body.registrationId as string
      for (const { url } of instances.slice(1)) {
        const read = await call(`${url}/v1/registrations/${id}`, { headers: who })
        expect(read.status).toBe(200)
        expect(read.body.registrationId).toBe(id)
      }
    })

    it('restarts an instance that crashed (SIGKILL), on a new PID that serves the same Redis', async () => {
      const victim = instances[1] as InstanceInfo
      process.kill(victim.instancePid, 'SIGKILL')
      let restarted: { url: string, instancePid: number } | undefined
      await waitFor(() => {
        const line = cluster?.lines().find((l) => l.instance === 1 && typeof l.url === 'string' && l.instancePid !== victim.instancePid)
        if (line !== undefined) restarted = { url: line.url as string, instancePid: line.instancePid as number }
        return restarted !== undefined
      }, 20_000, () => cluster?.stdout().slice(-3000) ?? '')
      const crash = cluster?.lines().find((l) => l.instance === 1 && l.signal === 'SIGKILL')
      expect(crash?.msg).toBe('instance 1 crashed (SIGKILL); restarting in 200 ms')
      expect(alive(victim.instancePid)).toBe(false)
      const who = bench.applicant()
      const made = await register((instances[0] as InstanceInfo).url, who, 2)
      expect(made.status).toBe(201)
      expect((await call(`${(restarted as { url: string }).url}/v1/registrations/${made.body.registrationId as string}`, { headers: who })).status).toBe(200)
    })

    it('on SIGTERM drains every instance and exits 0 once all have exited', async () => {
      const pids = cluster?.pids() ?? []
      // Three started, one crashed and started again.
      expect(pids).toHaveLength(4)
      const { code, swept } = await stopCluster(cluster)
      expect(code).toBe(0)
      // The supervisor stopped them all: the fixture had none left to kill.
      expect(swept).toEqual([])
      for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false)
      const exits = cluster?.lines().filter((l) => l.msg.endsWith(' exited') && l.code === 0).map((l) => l.instance)
      expect(exits?.sort()).toEqual([0, 1, 2])
      expect(cluster?.lines().at(-1)?.msg).toBe('every gateway instance has exited')
      cluster = undefined
    })
  })
})
