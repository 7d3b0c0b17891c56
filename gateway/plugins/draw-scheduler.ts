// Runs the daily schedule of the draw (gateway/domain/draw-scheduler.ts) on a timer in every
// instance; the store makes each step happen once. Ticks never overlap, the timer does not keep
// the process alive, and it stops when the server closes. With autoDraw off the scheduler is
// still built (ops and tests call tick()), but no timer runs.
import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { DrawScheduler } from '../domain/draw-scheduler.js'

declare module 'fastify' {
  interface FastifyInstance {
    drawScheduler: DrawScheduler
  }
}

export default fp(async function drawScheduler (fastify) {
  const { config } = fastify
  const steps = new Counter({
    name: 'gateway_allocation_schedule_steps_total',
    help: 'Steps of the daily draw schedule this instance did (commit, seal, draw, lapse) or failed; one instance does each step.',
    labelNames: ['step', 'outcome'] as const,
    registers: [fastify.metrics]
  })
  const { confirmationHours, extensionHours, maxExtensions } = config.schedule
  const scheduler = new DrawScheduler({
    clock: fastify.clock,
    allocations: fastify.allocations,
    rules: {
      schedule: config.schedule,
      catchUpMs: config.allocation.catchUpHours * 3600_000,
      // The longest a place can stay open, in days, and one more for the lapse grace.
      lapseDays: Math.ceil((confirmationHours + maxExtensions * extensionHours) / 24) + 1
    },
    onError: (err, step, date) => {
      steps.inc({ step, outcome: 'failed' })
      fastify.log.error({ err, step, date }, 'draw schedule step failed; it is tried again at the next tick')
    }
  })
  fastify.decorate('drawScheduler', scheduler)
  if (!config.allocation.autoDraw) return

  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const tick = () => {
    if (running !== undefined) return
    running = scheduler.tick().then((done) => {
      for (const step of done) {
        steps.inc({ step: step.action, outcome: 'done' })
        fastify.log.info({ audit: 'allocation-schedule', ...step }, `draw schedule: ${step.action}`)
      }
    }, (err: unknown) => {
      fastify.log.error({ err }, 'draw schedule tick failed')
    }).finally(() => { running = undefined })
  }
  fastify.addHook('onReady', async () => {
    timer = setInterval(tick, config.allocation.schedulerIntervalSeconds * 1000)
    timer.unref()
    tick()
  })
  fastify.addHook('onClose', async () => {
    clearInterval(timer)
    await running
  })
}, { name: 'draw-scheduler', dependencies: ['registrations'] })
