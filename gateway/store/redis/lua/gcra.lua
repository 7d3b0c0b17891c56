-- GCRA over groups of buckets in one call: each group all or nothing, groups independent; the
-- same steps as gateway/store/gcra.ts. One call per request instead of one per group halves
-- Redis' work for a typical request (device + IP buckets).
-- KEYS      the bucket keys, group after group
-- Times are whole microseconds (see gateway/store/gcra.ts for why), exact in Lua's doubles.
-- ARGV[1]   now, epoch µs (the gateway's injected clock, so both adapters read the same time)
-- ARGV[2]   cost
-- ARGV[3]   expiry slack, ms kept past the moment a bucket is full again
-- ARGV[4]   number of groups G, then ARGV[5 .. 4+G] the size of each group
-- then per key, in KEYS order: interval µs (computed by the caller), burst
-- Returns per key: allowed (0/1), remaining, retry-after ms, reset ms.
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local slack = tonumber(ARGV[3])
local groups = tonumber(ARGV[4])
local limits = 4 + groups
local out = {}
local first = 1

for g = 1, groups do
  local last = first + tonumber(ARGV[4 + g]) - 1
  local tats, newTats, intervals, windows = {}, {}, {}, {}
  local fits = true
  for i = first, last do
    local interval = tonumber(ARGV[limits + 2 * i - 1])
    local window = tonumber(ARGV[limits + 2 * i]) * interval
    local tat = tonumber(redis.call('GET', KEYS[i])) or now
    if tat < now then tat = now end
    local newTat = tat + cost * interval
    if now < newTat - window then fits = false end
    tats[i], newTats[i], intervals[i], windows[i] = tat, newTat, interval, window
  end
  for i = first, last do
    local interval, window = intervals[i], windows[i]
    local remaining, retry, reset
    if fits then
      redis.call('SET', KEYS[i], string.format('%.0f', newTats[i]), 'PX', math.ceil((newTats[i] - now) / 1000) + slack)
      remaining = math.floor((window - (newTats[i] - now)) / interval)
      retry = 0
      reset = math.ceil((newTats[i] - now) / 1000)
    else
      remaining = math.floor((window - (tats[i] - now)) / interval)
      retry = math.ceil((newTats[i] - window - now) / 1000)
      if retry < 0 then retry = 0 end
      reset = math.ceil((tats[i] - now) / 1000)
    end
    if remaining < 0 then remaining = 0 end
    out[#out + 1] = fits and 1 or 0
    out[#out + 1] = remaining
    out[#out + 1] = retry
    out[#out + 1] = reset
  end
  first = last + 1
end
return out
