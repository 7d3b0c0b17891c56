-- Appends an event to its partition's stream (KEYS[1]) and, in the same atomic step, drops its
-- intent (KEYS[2] hash, KEYS[3] sorted set: see outbox-intend.lua). XADD comes first: if it
-- fails (an error aborts the script), the intent stays for recovery.
-- ARGV: event id, type, time, payload. Returns the new entry's stream id.
local entry = redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'type', ARGV[2], 'time', ARGV[3], 'payload', ARGV[4])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return entry
