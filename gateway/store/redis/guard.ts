import { ReplyError } from 'ioredis'
import { StoreUnavailableError } from '../errors.js'

// Replies by which a reachable Redis says it cannot serve writes right now: out of memory, a
// read-only replica, a failed persistence, still loading, a busy script, a cluster in trouble.
// To a caller these are the same as Redis being away.
const UNAVAILABLE = /^(OOM|READONLY|MISCONF|LOADING|BUSY|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|NOREPLICAS|MOVED|ASK)\b/

// Any other ReplyError is Redis answering "no" to a mistake of ours (WRONGTYPE, a script error)
// and stays as it is; everything else (refused connection, closed stream, command timeout)
// means Redis is away.
export async function guard<T> (pending: Promise<T>): Promise<T> {
  try {
    return await pending
  } catch (err) {
    if (err instanceof ReplyError && !UNAVAILABLE.test((err as Error).message)) throw err
    throw new StoreUnavailableError(err)
  }
}
