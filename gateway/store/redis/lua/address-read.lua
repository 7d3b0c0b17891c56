-- One address's cluster in one round trip: claimants, last names, registrations, then the meta
-- hash flattened (field, value, ...). KEYS as in address-claim.lua.
return { redis.call('SCARD', KEYS[1]), redis.call('SCARD', KEYS[2]), redis.call('SCARD', KEYS[3]), redis.call('HGETALL', KEYS[4]) }
