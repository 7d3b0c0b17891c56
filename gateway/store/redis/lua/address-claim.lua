-- One registration's claim on one address, in one atomic step on the address's hash tag.
-- KEYS[1] people (set of identity hashes), KEYS[2] last names (set of keyed hashes),
-- KEYS[3] registrations (set of ids), KEYS[4] meta (hash: display, firstSeen, lastSeen, poe:<slug>),
-- KEYS[5] requests (set of "<poe>:<person>", see address-request.lua)
-- ARGV[1] at ms, ARGV[2] sealed display, ARGV[3] registration id, ARGV[4] retention ms,
-- ARGV[5] number of people, then the people, then the last names.
-- Sets, so a retried claim changes nothing. Every key of the address lives `retention` from now:
-- an address nobody claims or asks for again leaves Redis with its last claim's registration.
-- Returns the claimant count, for the ranking.
local at = tonumber(ARGV[1])
local people = tonumber(ARGV[5])
redis.call('SADD', KEYS[3], ARGV[3])
for i = 6, 5 + people do redis.call('SADD', KEYS[1], ARGV[i]) end
for i = 6 + people, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
redis.call('HSETNX', KEYS[4], 'display', ARGV[2])
local first = tonumber(redis.call('HGET', KEYS[4], 'firstSeen'))
if first == nil or at < first then redis.call('HSET', KEYS[4], 'firstSeen', at) end
local last = tonumber(redis.call('HGET', KEYS[4], 'lastSeen'))
if last == nil or at > last then redis.call('HSET', KEYS[4], 'lastSeen', at) end
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return redis.call('SCARD', KEYS[1])
