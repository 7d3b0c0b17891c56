import { ReplyError } from 'ioredis'
import { StoreUnavailableError } from '../errors.js'

// A ReplyError is Redis answering "no" (a bug of ours, such as WRONGTYPE) and stays as it is;
// anything else (refused connection, closed stream, command timeout) means Redis is away.
export async function guard<T> (pending: Promise<T>): Promise<T> {
  try {
    return await pending
  } catch (err) {
    if (err instanceof ReplyError) throw err
    throw new StoreUnavailableError(err)
  }
}
