-- Rolling window admission, the same steps as gateway/store/memory/window-store.ts.
-- KEYS[1] the window (a sorted set of members scored by admission time, ms)
-- ARGV[1] now ms, ARGV[2] window ms, ARGV[3] max, ARGV[4] min interval ms (0 for none), ARGV[5] member,
-- ARGV[6] expiry slack ms: the key outlives its newest entry's window by this much, so that a
-- Redis clock (or a request) running a little ahead of the caller's never forgets entries the
-- caller still counts.
-- Returns: admitted (0/1), reason (0 none, 1 limit, 2 interval), count, retry-after ms.
-- A member already in the window is admitted again and changes nothing: a step retried under the
-- same member (a registration resumed after its instance died) is not its own neighbour.
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local minInterval = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[5]) then
  return { 1, 0, count, 0 }
end
if minInterval > 0 and count > 0 then
  local last = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
  if last > now - minInterval then
    return { 0, 2, count, last + minInterval - now }
  end
end
if count >= max then
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  return { 0, 1, count, oldest + window - now }
end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], window + tonumber(ARGV[6]))
return { 1, 0, count + 1, 0 }
