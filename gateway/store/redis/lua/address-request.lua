-- Claimants of an address asked for a port of entry: each person counts once per port.
-- KEYS[1] requests (set of "<poe>:<person>"), KEYS[2] meta (hash, as in address-claim.lua),
-- KEYS[3] people, KEYS[4] last names, KEYS[5] registrations
-- ARGV[1] poe slug, ARGV[2] at ms, ARGV[3] retention ms, then the people.
-- Nothing happens for an address never claimed or forgotten (no meta): returns -1, and the
-- ranking is left alone. A request keeps every key of the address `retention` from now, as a
-- claim does. Returns how many were new.
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local added = 0
for i = 4, #ARGV do added = added + redis.call('SADD', KEYS[1], ARGV[1] .. ':' .. ARGV[i]) end
if added > 0 then redis.call('HINCRBY', KEYS[2], 'poe:' .. ARGV[1], added) end
local at = tonumber(ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[2], 'lastSeen'))
if last == nil or at > last then redis.call('HSET', KEYS[2], 'lastSeen', at) end
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
return added
