// Which of the runner's variables reach the gateway it starts: settings yes, the stack's wiring no.
import { describe, expect, it } from 'vitest'
import { passedThrough } from '../../loadtests/rehearsal/stack.js'

describe('passedThrough', () => {
  it('passes GATEWAY_* settings and keeps the host, port, key files and simulator URLs of the stack', () => {
    expect(passedThrough({
      GATEWAY_REDIS_AUTO_PIPELINING: 'true',
      GATEWAY_RATE_LIMIT_RULES: '[]',
      GATEWAY_PORT: '8080',
      GATEWAY_HOST: '0.0.0.0',
      GATEWAY_AUTH_PUBLIC_KEY_FILE: '/etc/key.pem',
      GATEWAY_IDENTITY_KEY_FILE: '/etc/identity.key',
      GATEWAY_WAITING_ROOM_SIGNING_KEY_FILE: '/etc/room.pem',
      GATEWAY_VENDOR_URL: 'http://vendor.example',
      GATEWAY_DELIVERY_URL: 'http://backend.example/events',
      REDIS_URL: 'redis://10.0.0.1:6379',
      PATH: '/usr/bin'
    })).toEqual({ GATEWAY_REDIS_AUTO_PIPELINING: 'true', GATEWAY_RATE_LIMIT_RULES: '[]' })
  })
})
