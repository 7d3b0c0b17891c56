-- Records the intent of an event (before the state change that causes it): KEYS[1] is the
-- partition's intents by event id (a hash of the intent's JSON), KEYS[2] the same ids by due
-- time (a sorted set). A second record of the same id keeps the first and its due time.
-- ARGV: event id, intent JSON, due time (epoch ms).
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
end
return 1
