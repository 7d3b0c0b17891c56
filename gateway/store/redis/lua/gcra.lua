-- GCRA over every bucket of one hash tag, all or nothing: the same steps as gateway/store/gcra.ts.
-- KEYS[i]  the bucket keys (one hash tag, so one Cluster slot)
-- ARGV[1]  now, epoch ms (the gateway's injected clock, so both adapters read the same time)
-- ARGV[2]  cost
-- ARGV[3]  expiry slack, ms kept past the moment a bucket is full again
-- ARGV[2 + 2i], ARGV[3 + 2i]  rate per second and burst of KEYS[i]
-- Returns per bucket: allowed (0/1), remaining, retry-after ms, reset ms.
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local slack = tonumber(ARGV[3])
local n = #KEYS
local tats, newTats, intervals, windows = {}, {}, {}, {}
local fits = true

for i = 1, n do
  local interval = 1000 / tonumber(ARGV[2 + 2 * i])
  local window = tonumber(ARGV[3 + 2 * i]) * interval
  local stored = tonumber(redis.call('GET', KEYS[i]))
  local tat = stored or now
  if tat < now then tat = now end
  local newTat = tat + cost * interval
  if now < newTat - window then fits = false end
  tats[i], newTats[i], intervals[i], windows[i] = tat, newTat, interval, window
end

local out = {}
for i = 1, n do
  local interval, window = intervals[i], windows[i]
  local remaining, retry, reset
  if fits then
    local ttl = math.ceil(newTats[i] - now) + slack
    redis.call('SET', KEYS[i], string.format('%.17g', newTats[i]), 'PX', ttl)
    remaining = math.floor((window - (newTats[i] - now)) / interval)
    retry = 0
    reset = math.ceil(newTats[i] - now)
  else
    remaining = math.floor((window - (tats[i] - now)) / interval)
    retry = math.ceil(newTats[i] - window - now)
    if retry < 0 then retry = 0 end
    reset = math.ceil(tats[i] - now)
  end
  if remaining < 0 then remaining = 0 end
  out[#out + 1] = fits and 1 or 0
  out[#out + 1] = remaining
  out[#out + 1] = retry
  out[#out + 1] = reset
end
return out
