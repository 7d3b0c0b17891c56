-- Reserves the next start slot of a rate shared by every gateway instance (GCRA with a burst of
-- one, used to schedule rather than to refuse): slots are `interval` apart on Redis' own clock,
-- so the instances' clocks (and their skew) play no part. See gateway/vendor/contract-limiter.ts.
-- KEYS[1]  the contract's theoretical arrival time (TAT), epoch µs
-- ARGV[1]  interval µs between two starts
-- ARGV[2]  expiry slack, ms the key outlives its TAT
-- Returns the µs to wait before the reserved slot (0: start now).
local interval = tonumber(ARGV[1])
local slack = tonumber(ARGV[2])
-- TIME before a write is allowed: scripts replicate their effects (the only mode since Redis 7).
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local nextTat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', nextTat), 'PX', math.ceil((nextTat - now) / 1000) + slack)
return tat - now
