// The event publisher on its own (gateway/domain/events.ts), on the memory store: stable ids,
// intents dropped by an append, and recovery's decisions.
import { describe, expect, it } from 'vitest'
import { eventId, EventPublisher, type DomainEvent } from '../../gateway/domain/events.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import type { OutboxEvent, Stores } from '../../gateway/store/ports.js'

const event = (about: string, type: DomainEvent['type'] = 'registration.created', version?: number): DomainEvent => ({
  type, about, registrationId: `reg_${about}`, time: 1_000, payload: { registrationId: `reg_${about}` }, ...(version === undefined ? {} : { version })
})

async function drain (stores: Stores): Promise<OutboxEvent[]> {
  const out: OutboxEvent[] = []
  for (let p = 0; p < stores.outbox.partitions; p++) out.push(...(await stores.outbox.read(p, 'test', 1_000)).map((e) => e.event))
  return out
}

describe('event publisher', () => {
  it('gives one change one id, and different changes different ids', () => {
    expect(eventId('registration.created', 'reg_a')).toBe(eventId('registration.created', 'reg_a'))
    expect(eventId('registration.created', 'reg_a')).toMatch(/^evt_[\w-]{32}$/)
    const ids = new Set([
      eventId('registration.created', 'reg_a'),
      eventId('registration.withdrawn', 'reg_a'),
      eventId('registration.created', 'reg_b'),
      eventId('appointment.extended', 'apr_a', 1),
      eventId('appointment.extended', 'apr_a', 2),
      eventId('appointment.extended', 'apr_a')
    ])
    expect(ids.size).toBe(6)
  })

  it('appends under the id, to the registration\'s partition, and the append settles the intent', async () => {
    const clock = new ManualClock(0)
    const stores = createMemoryStores({ clock })
    const events = new EventPublisher({ outbox: stores.outbox, clock, recoverAfterMs: 60_000 })
    const e = event('x')
    await events.intend(e)
    await events.append(e)
    clock.advance(120_000)
    expect(await events.recover()).toEqual({ appended: 0, dropped: 0 })
    expect(await drain(stores)).toEqual([{ id: eventId('registration.created', 'x'), type: 'registration.created', time: 1_000, payload: '{"registrationId":"reg_x"}' }])
  })

  it('recovers due intents only: appended when the change is there, dropped when not, appended when nobody can tell', async () => {
    const clock = new ManualClock(0)
    const stores = createMemoryStores({ clock })
    const recovered: string[] = []
    const events = new EventPublisher({ outbox: stores.outbox, clock, recoverAfterMs: 60_000, signals: { appended: () => {}, recovered: (type, outcome) => recovered.push(`${type} ${outcome}`) } })
    const present = new Set(['reg_kept'])
    events.verifier('registration.created', async (payload) => present.has(String(payload.registrationId)))
    await events.intend(event('kept'))
    await events.intend(event('undone'))
    await events.intend(event('unknown', 'appointment.not-selected'))
    clock.advance(59_999)
    expect(await events.recover()).toEqual({ appended: 0, dropped: 0 })
    clock.advance(1)
    // Pages smaller than the intents: every page is read.
    expect(await events.recover(1)).toEqual({ appended: 2, dropped: 1 })
    expect((await drain(stores)).map((e) => e.id).sort()).toEqual([eventId('registration.created', 'kept'), eventId('appointment.not-selected', 'unknown')].sort())
    expect(recovered.sort()).toEqual(['appointment.not-selected appended', 'registration.created appended', 'registration.created dropped'])
    expect((await stores.outbox.stats()).intents).toBe(0)
  })

  it('leaves an intent for the next round when the verifier cannot answer (the store away)', async () => {
    const clock = new ManualClock(0)
    const stores = createMemoryStores({ clock })
    const events = new EventPublisher({ outbox: stores.outbox, clock, recoverAfterMs: 1_000 })
    let away = true
    events.verifier('registration.created', async () => { if (away) throw new Error('store away'); return true })
    await events.intend(event('later'))
    clock.advance(1_000)
    await expect(events.recover()).rejects.toThrow('store away')
    expect((await stores.outbox.stats()).intents).toBe(1)
    away = false
    expect(await events.recover()).toEqual({ appended: 1, dropped: 0 })
  })
})
