-- Sets a new TTL on KEYS[1] only while it holds ARGV[1]: renews a claim that is still ours.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
