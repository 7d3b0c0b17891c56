-- INCRBY, then a TTL only while the counter has none (a fixed window that later calls keep).
-- KEYS[1] counter; ARGV[1] by; ARGV[2] ttl ms or 0 for none.
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl > 0 and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return value
