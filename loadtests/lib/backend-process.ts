// The parent's side of the backend simulator in a process of its own
// (loadtests/bench/servers/backend-instance.ts): start it, ask it over IPC, stop it by its handle.
// Shared by bench:delivery and the rehearsal runner.
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { BackendAnswer, BackendQuestion, BackendTask } from '../bench/servers/backend-instance.js'

const INSTANCE = fileURLToPath(new URL('../bench/servers/backend-instance.js', import.meta.url))

/** Forks the simulator and resolves once it listens, with its URL. */
export async function startBackendProcess (task: BackendTask): Promise<{ child: ChildProcess, url: string }> {
  const child = fork(INSTANCE, { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const url = await new Promise<string>((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`the backend simulator exited (${code}) before listening`))
    child.once('exit', onExit)
    child.once('message', (message) => {
      child.off('exit', onExit)
      resolve((message as { url: string }).url)
    })
    child.send(task)
  })
  return { child, url }
}

/** One question, one answer. */
export async function askBackend (child: ChildProcess, question: BackendQuestion): Promise<BackendAnswer> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`the backend simulator exited (${code}) before answering`))
    child.once('exit', onExit)
    child.once('message', (answer) => {
      child.off('exit', onExit)
      resolve(answer as BackendAnswer)
    })
    child.send(question)
  })
}

/** Asks it to close (SIGTERM without IPC), SIGKILL after 5 s; resolves once it exited. */
export async function stopBackendProcess (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  if (child.connected) child.send({ kind: 'close' } satisfies BackendQuestion)
  else child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}
