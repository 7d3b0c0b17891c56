-- Deletes KEYS[1] only while it holds ARGV[1]: releases a claim without taking someone else's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
