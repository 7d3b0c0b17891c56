-- Writes ARGV[2] to KEYS[1] only while it still holds ARGV[1]: a compare-and-set, so a read,
-- change and write of one record never overwrites a change made in between.
-- ARGV[3]: ttl ms, or 0 for none (as SET without PX).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
