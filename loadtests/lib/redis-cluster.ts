// A private Redis Cluster on loopback: 6 redis-server processes with --cluster-enabled yes (3
// masters, 3 replicas, made by `redis-cli --cluster create --cluster-replicas 1`), on free ports,
// in a temp dir, keeping no data on disk (each node's nodes.conf stays, so a killed node can be
// started again and rejoin). For test/cluster/ and benchmarks; never port 6379. Every wait is
// bounded and says what it waited for; every process is stopped by its PID.
// https://redis.io/docs/latest/operate/oss_and_stack/management/scaling/
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { answersPing, freePort } from './redis-server.js'

const run = promisify(execFile)
const HOST = '127.0.0.1'

export interface RedisClusterOptions {
  /** Masters (default 3); each gets `replicasPerMaster` replicas (default 1). */
  masters?: number
  replicasPerMaster?: number
  /** cluster-node-timeout: how long a silent master takes to be failed over (default 1500 ms). */
  nodeTimeoutMs?: number
  /** Bound on each wait (cluster forming, failover, rejoin); default 30 s. */
  waitMs?: number
}

export interface ClusterNodeInfo {
  id: string
  port: number
  role: 'master' | 'replica'
  /** For a replica, the id of its master. */
  masterId: string | null
  /** Slot ranges served (masters), as [first, last]. */
  slots: Array<[number, number]>
  failed: boolean
}

export interface RedisCluster {
  /** Seed nodes, as REDIS_CLUSTER_NODES takes them: "127.0.0.1:p1,127.0.0.1:p2,...". */
  readonly nodesSpec: string
  readonly nodes: ReadonlyArray<{ host: string, port: number }>
  /** The PID of the redis-server on `port` (undefined once it exited). */
  pidOf(port: number): number | undefined
  /** The hash slot of a full key (as sent, with any prefix): CLUSTER KEYSLOT. */
  slotOf(key: string): Promise<number>
  /** The hash slots of many keys, in order, over one connection. */
  slotsOf(keys: readonly string[]): Promise<number[]>
  /** The master currently serving `slot`, as the cluster sees it. */
  masterOf(slot: number): Promise<ClusterNodeInfo>
  /** The cluster's view of its nodes, from a live node. */
  topology(): Promise<ClusterNodeInfo[]>
  /**
   * Closes the replication links of the master on `port` (CLIENT KILL TYPE replica); returns how
   * many. Its replicas reconnect within a second and catch up from the backlog, unless stopped.
   */
  dropReplicaLinks(port: number): Promise<number>
  /** SIGKILLs (by PID) the master serving `slot`; returns its port. */
  killMasterOf(slot: number): Promise<number>
  /** Waits until `slot` is served by a live master other than `oldPort` and every live node says cluster_state:ok. */
  waitForFailover(slot: number, oldPort: number): Promise<ClusterNodeInfo>
  /** Starts a killed node again on its port with its nodes.conf: it rejoins (as a replica, once failed over). */
  restart(port: number): Promise<void>
  /** Waits until every node is up, says cluster_state:ok, and every master has a replica in sync. */
  waitUntilHealthy(): Promise<void>
  /** Stops every node by PID and removes the temp dir. */
  stop(): Promise<void>
}

interface Node {
  port: number
  dir: string
  child: ChildProcess | undefined
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `check` until it returns a value (not undefined) or `ms` pass; then fails naming `what` and the last state seen. */
async function waitFor<T> (what: string, ms: number, check: () => Promise<T | undefined | { pending: string }>): Promise<T> {
  const deadline = Date.now() + ms
  let last = 'no answer yet'
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined && !(typeof value === 'object' && value !== null && 'pending' in value)) return value as T
      if (value !== undefined) last = (value as { pending: string }).pending
    } catch (err) {
      last = (err as Error).message
    }
    if (Date.now() > deadline) throw new Error(`redis cluster: ${what} not reached within ${ms} ms (last seen: ${last})`)
    await sleep(100)
  }
}

/** A short-lived connection to one node, for admin commands; closed after `fn`. */
async function onNode<T> (port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: HOST, port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 1_000, commandTimeout: 2_000, retryStrategy: () => null })
  redis.on('error', () => {})
  try {
    await redis.connect()
    return await fn(redis)
  } finally {
    redis.disconnect()
  }
}

export function parseClusterNodes (text: string): ClusterNodeInfo[] {
  return text.trim().split('\n').filter((line) => line !== '').map((line) => {
    const [id, address, flags, master, , , , , ...slotParts] = line.split(' ')
    const port = Number(/:(\d+)@/.exec(address ?? '')?.[1])
    const flagSet = new Set((flags ?? '').split(','))
    const slots: Array<[number, number]> = []
    for (const part of slotParts) {
      if (part.startsWith('[')) continue // a slot being migrated
      const [first, last] = part.split('-').map(Number)
      slots.push([first as number, last ?? first as number])
    }
    return {
      id: id as string,
      port,
      role: flagSet.has('master') ? 'master' : 'replica',
      masterId: master === '-' || master === undefined ? null : master,
      slots,
      failed: flagSet.has('fail') || flagSet.has('fail?')
    }
  })
}

async function freeClusterPort (taken: Set<number>): Promise<number> {
  // The cluster bus listens on port + 10000; both must be free.
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort()
    if (port > 55_535 || taken.has(port) || taken.has(port + 10_000)) continue
    if (!await answersPing(port + 10_000) && await portFree(port + 10_000)) return port
  }
  throw new Error('redis cluster: no free loopback port pair (port and port + 10000) found in 50 tries')
}

async function portFree (port: number): Promise<boolean> {
  const { createServer } = await import('node:net')
  const server = createServer()
  return new Promise((resolve) => {
    server.once('error', () => resolve(false))
    server.listen(port, HOST, () => server.close(() => resolve(true)))
  })
}

export async function startRedisCluster (options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3
  const replicasPerMaster = options.replicasPerMaster ?? 1
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1_500
  const waitMs = options.waitMs ?? 30_000
  const root = await mkdtemp(join(tmpdir(), 'gateway-redis-cluster-'))
  const nodes: Node[] = []

  const spawnNode = async (node: Node): Promise<void> => {
    const child = spawn('redis-server', [
      '--port', String(node.port), '--bind', HOST, '--dir', node.dir,
      '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(nodeTimeoutMs),
      '--save', '', '--appendonly', 'no', '--loglevel', 'warning',
      // A replica (or a killed master rejoining) syncs at once, not after Redis 7's default 5 s
      // wait for more replicas to share the transfer.
      '--repl-diskless-sync-delay', '0'
    ], { stdio: ['ignore', 'ignore', 'inherit'] })
    const failed: { error?: Error } = {}
    child.once('error', (err) => { failed.error = err })
    node.child = child
    await waitFor(`redis-server on port ${node.port} answering PING`, 10_000, async () => {
      if (failed.error !== undefined) throw new Error(`cannot run redis-server (install the Debian package redis-server): ${failed.error.message}`)
      if (child.exitCode !== null) throw new Error(`redis-server on port ${node.port} exited with code ${child.exitCode}`)
      return await answersPing(node.port) ? true : undefined
    })
  }

  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map(async (node) => {
      const child = node.child
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    }))
    await rm(root, { recursive: true, force: true })
  }

  try {
    const taken = new Set<number>()
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
      const port = await freeClusterPort(taken)
      taken.add(port)
      taken.add(port + 10_000)
      const dir = join(root, String(port))
      await mkdir(dir)
      nodes.push({ port, dir, child: undefined })
    }
    await Promise.all(nodes.map(spawnNode))
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `${HOST}:${n.port}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'], { timeout: waitMs })
  } catch (err) {
    await stop()
    throw err
  }

  const live = (): Node[] => nodes.filter((n) => n.child !== undefined && n.child.exitCode === null && n.child.signalCode === null)

  const topology = async (): Promise<ClusterNodeInfo[]> => {
    let lastError: Error | undefined
    for (const node of live()) {
      try {
        return parseClusterNodes(await onNode(node.port, async (r) => String(await r.call('CLUSTER', 'NODES'))))
      } catch (err) {
        lastError = err as Error
      }
    }
    throw new Error(`redis cluster: no live node answers CLUSTER NODES (${lastError?.message ?? 'none running'})`)
  }

  const masterOf = async (slot: number): Promise<ClusterNodeInfo> => {
    const master = (await topology()).find((n) => n.role === 'master' && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b))
    if (master === undefined) throw new Error(`redis cluster: no live master serves slot ${slot}`)
    return master
  }

  const healthy = async (): Promise<true | { pending: string }> => {
    for (const node of nodes) {
      if (!live().includes(node)) return { pending: `node ${node.port} is not running` }
      const info = await onNode(node.port, async (r) => String(await r.call('CLUSTER', 'INFO')))
      if (!info.includes('cluster_state:ok')) return { pending: `node ${node.port}: not cluster_state:ok` }
      if (!info.includes(`cluster_known_nodes:${nodes.length}\r`)) return { pending: `node ${node.port}: does not know all ${nodes.length} nodes yet` }
    }
    const view = await topology()
    const mastersUp = view.filter((n) => n.role === 'master' && !n.failed && n.slots.length > 0)
    if (mastersUp.length !== masters) return { pending: `${mastersUp.length} of ${masters} masters serve slots` }
    for (const master of mastersUp) {
      const replicas = view.filter((n) => n.masterId === master.id && !n.failed)
      if (replicas.length < replicasPerMaster) return { pending: `master ${master.port} has ${replicas.length} of ${replicasPerMaster} replicas` }
      for (const replica of replicas) {
        const repl = await onNode(replica.port, async (r) => r.info('replication'))
        if (!repl.includes('master_link_status:up') || !repl.includes('master_sync_in_progress:0')) return { pending: `replica ${replica.port} not in sync with ${master.port}` }
      }
      // As the master sees them too: online replicas are what WAIT counts.
      const online = (await onNode(master.port, async (r) => r.info('replication'))).match(/^slave\d+:.*state=online/gm) ?? []
      if (online.length < replicasPerMaster) return { pending: `master ${master.port} sees ${online.length} of ${replicasPerMaster} replicas online` }
    }
    return true
  }

  const waitUntilHealthy = async (): Promise<void> => {
    await waitFor('every node cluster_state:ok with every master\'s replicas in sync', waitMs, healthy)
  }

  try {
    await waitUntilHealthy()
  } catch (err) {
    await stop()
    throw err
  }

  return {
    nodesSpec: nodes.map((n) => `${HOST}:${n.port}`).join(','),
    nodes: nodes.map((n) => ({ host: HOST, port: n.port })),
    pidOf: (port) => {
      const child = nodes.find((n) => n.port === port)?.child
      return child === undefined || child.exitCode !== null || child.signalCode !== null ? undefined : child.pid
    },
    slotOf: async (key) => {
      const node = live()[0]
      if (node === undefined) throw new Error('redis cluster: no node running')
      return Number(await onNode(node.port, async (r) => r.call('CLUSTER', 'KEYSLOT', key)))
    },
    slotsOf: async (keys) => {
      const node = live()[0]
      if (node === undefined) throw new Error('redis cluster: no node running')
      if (keys.length === 0) return []
      return onNode(node.port, async (r) => {
        const pipeline = r.pipeline()
        for (const key of keys) pipeline.call('CLUSTER', 'KEYSLOT', key)
        const results = await pipeline.exec()
        return (results ?? []).map(([err, slot]) => {
          if (err !== null) throw err
          return Number(slot)
        })
      })
    },
    masterOf,
    topology,
    dropReplicaLinks: async (port) => Number(await onNode(port, async (r) => r.call('CLIENT', 'KILL', 'TYPE', 'replica'))),
    killMasterOf: async (slot) => {
      const master = await masterOf(slot)
      const node = nodes.find((n) => n.port === master.port)
      const child = node?.child
      if (child === undefined || child.pid === undefined || child.exitCode !== null) throw new Error(`redis cluster: the master of slot ${slot} (port ${master.port}) is not a process this harness runs`)
      const exited = once(child, 'exit')
      process.kill(child.pid, 'SIGKILL')
      await exited
      return master.port
    },
    waitForFailover: async (slot, oldPort) => {
      return waitFor(`slot ${slot} failed over from port ${oldPort}`, waitMs, async () => {
        const master = await masterOf(slot)
        if (master.port === oldPort) return { pending: `slot ${slot} still on ${oldPort}` }
        for (const node of live()) {
          const info = await onNode(node.port, async (r) => String(await r.call('CLUSTER', 'INFO')))
          if (!info.includes('cluster_state:ok')) return { pending: `node ${node.port}: not cluster_state:ok` }
        }
        return master
      })
    },
    restart: async (port) => {
      const node = nodes.find((n) => n.port === port)
      if (node === undefined) throw new Error(`redis cluster: no node on port ${port}`)
      if (live().includes(node)) throw new Error(`redis cluster: node ${port} is still running`)
      await spawnNode(node)
    },
    waitUntilHealthy,
    stop
  }
}
