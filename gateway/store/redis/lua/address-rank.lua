-- The ranking's side of a claim or request, in one step on the {trends} hash tag.
-- KEYS[1] ranking (address -> claimants), KEYS[2] seen (address -> last claim or request, ms)
-- ARGV[1] address, ARGV[2] claimants (0: a request, the count unchanged, and nothing done for
-- an address not in the ranking: never claimed, or already forgotten), ARGV[3] at ms,
-- ARGV[4] retention ms, ARGV[5] most addresses to forget in this step
-- GT: an absolute count or time never lowers what is there, so retries and racing writers
-- converge. But an address unseen for longer than the retention is one whose keys expired (or
-- will): its old count is gone, and a claim's count replaces it rather than being compared with
-- it (a racing claim has just refreshed `seen`, so it is compared again). Then up to ARGV[5]
-- addresses unseen for longer than the retention leave both sets, as their own keys leave Redis
-- by their TTL: the ranking forgets at the pace it is written. Returns how many were forgotten.
local at = tonumber(ARGV[3])
local cutoff = at - tonumber(ARGV[4])
if tonumber(ARGV[2]) > 0 then
  local seen = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]))
  if seen == nil or seen < cutoff then
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
    redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  else
    redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
  end
elseif not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[2], 'GT', ARGV[3], ARGV[1])
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. cutoff, 'LIMIT', 0, tonumber(ARGV[5]))
for _, address in ipairs(stale) do
  redis.call('ZREM', KEYS[1], address)
  redis.call('ZREM', KEYS[2], address)
end
return #stale
